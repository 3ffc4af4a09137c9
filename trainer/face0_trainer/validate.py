"""Face gain: does the model use the face? Measured on the held-out people, inside a run.

A fixed set of (image, caption, embedding) from the held-out people's shards (holdout-*.tar, which
the training reader refuses to open), each noised at fixed timesteps with fixed noise. The v-loss
with the face and with the face dropped (the context keeps the text encoder's output, as in
training's face dropout) are compared: face gain = (loss without - loss with) / loss without.
0 means the face changes nothing; it is what `face0 eval`'s identity figures need to rise, and
unlike them it moves within minutes of training. The same numbers per timestep show where the
face is used (high noise: layout, hair, skin; low noise: detail).

With `caption` set, every sample gets that caption instead of its own: with GENERIC_CAPTION (the
identity prompt of `face0 eval`, which names no attribute) the face has to carry what the sample's
caption would have said (gender, age, hair), as it must when `face0 eval` measures identity.
"""
import copy
import math

import numpy as np
import torch

from .data import list_holdout_shards, list_shards, iter_shard, load_image, read_holdout, read_image_bytes

TIMESTEPS = (100, 300, 500, 700, 900)
GENERIC_CAPTION = "a photo of a person"          # eval/prompts.json identity_prompt


def load_samples(data_dir, split):
    """The held-out people's samples (split "holdout": the measurement) or the training samples ("train":
    a diagnostic: a path that helps on training people only has memorised them)."""
    if split == "holdout":
        shards = list_holdout_shards(data_dir)
        if not shards:
            raise FileNotFoundError(f"no holdout-*.tar in {data_dir} (rerun `face0 augment` with --holdout-identities)")
        return [s for sh in shards for s in iter_shard(sh, set(), validation=True)]
    if split == "train":
        holdout = read_holdout(data_dir)
        return [s for sh in list_shards(data_dir) for s in iter_shard(sh, holdout)]
    raise ValueError(f"split {split!r}: expected holdout or train")


def evenly(samples, n):
    """At most n of the samples, evenly spaced over the list (people are contiguous in the shards, so every
    person is represented)."""
    idx = np.linspace(0, len(samples) - 1, min(n, len(samples))).round().astype(int)
    return [samples[i] for i in idx]


def noised_set(picked, resolution, schedule, timesteps, g):
    """The samples' images, each noised at every timestep with noise from generator g: a fixed set for
    a loss that is compared across checkpoints (FaceGain, WordGain). Returns (t, x_t, v, emb), rows
    grouped by timestep (all samples at timesteps[0] first)."""
    x0 = torch.from_numpy(np.stack([load_image(read_image_bytes(s["jpg"]), resolution) for s in picked]))
    T = len(timesteps)
    t = torch.tensor(timesteps).repeat_interleave(len(picked))
    x0 = x0.repeat(T, 1, 1, 1)
    noise = torch.randn(x0.shape, generator=g)
    emb = torch.from_numpy(np.stack([s["embedding"] for s in picked])).repeat(T, 1)
    return t, schedule.q_sample(x0, t, noise), schedule.v_target(x0, t, noise), emb


def gain_by_t(base, better, timesteps, n):
    """{t: (base - better) / base} of per-sample losses laid out as noised_set's rows (n per timestep),
    rounded to 6 places; nan where the base loss is 0."""
    out = {}
    for k, t in enumerate(timesteps):
        b, o = base[k * n:(k + 1) * n].mean(), better[k * n:(k + 1) * n].mean()
        out[str(t)] = round(float((b - o) / b), 6) if b > 0 else math.nan
    return out


class FaceGain:
    def __init__(self, data_dir, tok, cfg, schedule, n=64, timesteps=TIMESTEPS, seed=0, device="cpu",
                 split="holdout", caption=None):
        """split: see load_samples."""
        samples = load_samples(data_dir, split)
        if not samples:
            raise ValueError(f"{data_dir}: no {split} samples")
        picked = evenly(samples, n)
        m = cfg.model
        ids = torch.tensor([tok.encode(s["caption"], m.context_length, m.face_tokens) for s in picked])
        self.tok, self.model_cfg, self.caption = tok, m, None
        g = torch.Generator().manual_seed(seed)
        self.t, self.x_t, self.v, self.emb = noised_set(picked, m.resolution, schedule, timesteps, g)
        self.ids = ids.repeat(len(timesteps), 1)
        self.timesteps, self.n, self.device = tuple(timesteps), len(picked), device
        self.people = len({s["meta"].get("identity") for s in picked})
        self.split = split
        if caption is not None:
            self.ids, self.caption = self.with_caption(caption).ids, caption

    def with_caption(self, caption):
        """The same (image, t, noise) set, every sample captioned `caption` (images are not read again)."""
        other = copy.copy(self)
        m = self.model_cfg
        other.ids = torch.tensor(self.tok.encode(caption, m.context_length, m.face_tokens)).repeat(self.ids.shape[0], 1)
        other.caption = caption
        return other

    @torch.no_grad()
    def __call__(self, model, batch=64):
        was = model.training
        model.eval()
        se_face, se_none = [], []
        for i in range(0, self.x_t.shape[0], batch):
            sl = slice(i, i + batch)
            x_t, t = self.x_t[sl].to(self.device), self.t[sl].to(self.device).float()
            ids, emb, v = self.ids[sl].to(self.device), self.emb[sl].to(self.device), self.v[sl].to(self.device)
            se_face.append((model(x_t, t, ids, emb) - v).pow(2).mean(dim=(1, 2, 3)).cpu())
            se_none.append((model(x_t, t, ids) - v).pow(2).mean(dim=(1, 2, 3)).cpu())
        model.train(was)
        f, z = torch.cat(se_face).double(), torch.cat(se_none).double()
        out = {"val_loss_face": float(f.mean()), "val_loss_noface": float(z.mean()),
               "face_gain": float((z.mean() - f.mean()) / z.mean())}
        out["face_gain_by_t"] = gain_by_t(z, f, self.timesteps, self.n)
        return out

    def describe(self):
        who = "held-out samples of" if self.split == "holdout" else "training samples of"
        return (f"{self.n} {who} {self.people} people x t={list(self.timesteps)}"
                + (f", caption {self.caption!r}" if self.caption is not None else ", their own captions"))
