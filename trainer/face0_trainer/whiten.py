"""Turn a checkpoint's face projector into the whitened form (ModelConfig.whiten_embedding) without
changing what it computes: with x' = L^-1 (x - m), the first layer W x + b becomes (W L) x' + (b + W m).
The run then continues with the whitened input, whose identity directions are unit-variance, so the
optimiser can move along them (the pilot of trainer/RECIPES.md). AdamW's moments of the old
parametrisation no longer apply: the result resumes like a compact relay state (moments at zero,
learning rate warmed up again)."""

import torch

from .config import from_dict
from .export import identity_prior
from .train import load_checkpoint, save_converted

W, B = "face_projector.mlp.0.weight", "face_projector.mlp.0.bias"


def whiten_state(sd, mean, L):
    sd = dict(sd)
    w, b = sd[W].double(), sd[B].double()
    sd[W] = (w @ L).float()
    sd[B] = (b + w @ mean).float()
    sd["face_projector.emb_mean"] = mean.float()
    sd["face_projector.emb_whiten"] = torch.linalg.inv(L).float()
    return sd


def whiten_checkpoint(ckpt_path, data_dir, out_dir):
    ck = load_checkpoint(ckpt_path)
    cfg = from_dict(ck["config"])
    if cfg.model.whiten_embedding:
        raise ValueError(f"{ckpt_path}: already whitened")
    prior, _ = identity_prior(data_dir)
    mean = torch.tensor(prior["mean"], dtype=torch.float64)
    L = torch.tensor(prior["cholesky"], dtype=torch.float64)
    cfg.model.whiten_embedding = True
    return save_converted(ck, cfg, whiten_state(ck["model"], mean, L), whiten_state(ck["ema"], mean, L), out_dir)
