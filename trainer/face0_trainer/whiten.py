"""Turn a checkpoint's face projector into the whitened form (ModelConfig.whiten_embedding) without
changing what it computes: with x' = L^-1 (x - m), the first layer W x + b becomes (W L) x' + (b + W m).
The run then continues with the whitened input, whose identity directions are unit-variance, so the
optimiser can move along them (the pilot of trainer/RECIPES.md). AdamW's moments of the old
parametrisation no longer apply: the result resumes like a compact relay state (moments at zero,
learning rate warmed up again)."""
import copy
import os

import torch

from .config import from_dict, to_dict
from .export import identity_prior
from .train import atomic_save, load_checkpoint

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
    out = copy.copy(ck)
    out.update(config=to_dict(cfg), model=whiten_state(ck["model"], mean, L), ema=whiten_state(ck["ema"], mean, L),
               compact=True)
    out.pop("optimizer", None)
    out.pop("scheduler", None)
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "ckpt.pt")
    atomic_save(out, path)
    return path
