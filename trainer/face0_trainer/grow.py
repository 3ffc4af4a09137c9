"""Add blocks to a trained checkpoint without changing what it computes, so that a run continues
with more capacity where the face is drawn. Two kinds, each at the feature-map sizes asked for:
- `xattn` (ModelConfig.xattn_resolutions): cross-attention-only blocks, whose output layer starts at
  zero (model.CrossAttentionBlock);
- `transformer` (ModelConfig.attn_resolutions): full spatial transformers (self-attention, cross-
  attention on the context, feed-forward), as the `default` preset has at 16x16; their `proj_out`
  starts at zero here, so each adds nothing until it trains.
Every other weight is copied. Like `whiten`, the result resumes like a compact relay state (AdamW
moments at zero, learning rate warmed up again), since the optimiser's state has no entries for the
new weights."""
import torch

from .config import from_dict
from .model import Face0Model, SpatialTransformer
from .train import save_converted

KINDS = {"xattn": ("xattn_resolutions", ".xattn."), "transformer": ("attn_resolutions", ".attn.")}


def grown_state(sd, model, new_marker):
    """`model`'s state with every tensor of `sd` copied in; only the new blocks' (keys containing
    `new_marker`) may be missing."""
    missing, unexpected = model.load_state_dict(sd, strict=False)
    stray = [k for k in missing if new_marker not in k]
    if unexpected or stray:
        raise ValueError(f"grow: the checkpoint does not fit the grown model (unexpected {unexpected[:3]}, "
                         f"missing {stray[:3]})")
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def grow_checkpoint(ckpt_path, resolutions, out_dir, kind="xattn"):
    if kind not in KINDS:
        raise ValueError(f"grow: unknown kind {kind!r} (expected one of {', '.join(KINDS)})")
    from .relay import load_checkpoint_or_state   # relay imports train, as this module does
    field, marker = KINDS[kind]
    ck = load_checkpoint_or_state(ckpt_path)      # a relay state folder grows as well as a checkpoint
    cfg = from_dict(ck["config"])
    have = getattr(cfg.model, field)
    resolutions = tuple(sorted(set(resolutions), reverse=True))
    added = [r for r in resolutions if r not in have]
    if not added:
        raise ValueError(f"{ckpt_path}: already has {kind} blocks at {have}")
    setattr(cfg.model, field, tuple(sorted(set(have) | set(added), reverse=True)))
    model = Face0Model(cfg.model)   # new blocks freshly initialised; the rest overwritten below
    if kind == "transformer":
        # a new transformer's residual branch starts at zero (existing ones are overwritten by sd)
        old = set(ck["model"])
        for name, m in model.named_modules():
            if isinstance(m, SpatialTransformer) and f"{name}.proj_out.weight" not in old:
                torch.nn.init.zeros_(m.proj_out.weight)
                torch.nn.init.zeros_(m.proj_out.bias)
    path = save_converted(ck, cfg, grown_state(ck["model"], model, marker), grown_state(ck["ema"], model, marker),
                          out_dir)
    return path, getattr(cfg.model, field)
