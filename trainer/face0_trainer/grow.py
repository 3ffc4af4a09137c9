"""Add cross-attention-only blocks (ModelConfig.xattn_resolutions) to a trained checkpoint without
changing what it computes: the new blocks' output layers start at zero (model.CrossAttentionBlock),
every other weight is copied. The run then continues with the face (and text) able to reach finer
feature maps. Like `whiten`, the result resumes like a compact relay state (AdamW moments at zero,
learning rate warmed up again), since the optimiser's state has no entries for the new weights."""

from .config import from_dict
from .model import Face0Model
from .train import load_checkpoint, save_converted


def grown_state(sd, model):
    """`model`'s state with every tensor of `sd` copied in; only new cross-attention blocks may be missing."""
    missing, unexpected = model.load_state_dict(sd, strict=False)
    stray = [k for k in missing if ".xattn." not in k]
    if unexpected or stray:
        raise ValueError(f"grow: the checkpoint does not fit the grown model (unexpected {unexpected[:3]}, "
                         f"missing {stray[:3]})")
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def grow_checkpoint(ckpt_path, resolutions, out_dir):
    ck = load_checkpoint(ckpt_path)
    cfg = from_dict(ck["config"])
    resolutions = tuple(sorted(set(resolutions), reverse=True))
    added = [r for r in resolutions if r not in cfg.model.xattn_resolutions]
    if not added:
        raise ValueError(f"{ckpt_path}: already has cross-attention blocks at {cfg.model.xattn_resolutions}")
    cfg.model.xattn_resolutions = tuple(sorted(set(cfg.model.xattn_resolutions) | set(added), reverse=True))
    model = Face0Model(cfg.model)   # new blocks zero-initialised; the rest overwritten below
    path = save_converted(ck, cfg, grown_state(ck["model"], model), grown_state(ck["ema"], model), out_dir)
    return path, cfg.model.xattn_resolutions
