"""A face-identity network for training only, and the identity loss it makes possible.

`FaceIdNet` is a small CNN distilled from face-api's recognition net (the conditioning embedder, whose
descriptors the shards hold): it reads the 64-px training crops and predicts the crop's descriptor,
whitened with the training embeddings' mean and Cholesky factor (identity_stats.json), where every
identity direction has unit variance (raw descriptors share a mean of norm 0.92 and differ by little).
Why distil rather than reuse: face-api runs on TensorFlow.js in Node, and the identity loss needs a
network PyTorch can backpropagate through, at the bundle's resolution.

`id_loss` (train.id_loss > 0): for each sample that has a face in its context, 1 - cosine between the
identities of the model's denoised estimate x0_hat = sqrt(abar) x_t - sqrt(1 - abar) v_hat and of the
clean target image. The v-loss spreads its gradient over every pixel, where the few that make a
person recognisable weigh little; this term asks for the person directly (the ID loss of PuLID and
others). `face0 eval` judges identity with a different network (FaceRes), so a model that only fools
this one gains nothing there.
"""
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .data import (iter_shard, list_holdout_shards, list_shards, load_image, person_of, read_holdout,
                   read_image_bytes)

IDNET_FORMAT = "face0-idnet-1"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def resolve_path(path):
    """train.id_net as given, or else relative to the repository root: the config travels inside the relay
    state to other machines and folders, so it names the committed file as `relay/idnet.pt`."""
    if path and not os.path.exists(path) and not os.path.isabs(path):
        alt = os.path.join(REPO_ROOT, path)
        if os.path.exists(alt):
            return alt
    return path


def _block(c_in, c_out, stride):
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1), nn.GroupNorm(8, c_out), nn.SiLU())


class Residual(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(_block(c, c, 1), nn.Conv2d(c, c, 3, 1, 1), nn.GroupNorm(8, c))

    def forward(self, x):
        return F.silu(x + self.body(x))


class FaceIdNet(nn.Module):
    """64x64 crop in [-1, 1] -> whitened identity embedding [dim]. The crops are aligned (augment frames
    every face alike), so the last 4x4 map is flattened rather than pooled: where a feature is counts."""

    def __init__(self, width=32, dim=128, resolution=64):
        super().__init__()
        c = width
        self.config = {"width": width, "dim": dim, "resolution": resolution}
        self.features = nn.Sequential(
            nn.Conv2d(3, c, 4, 2, 1), nn.GroupNorm(8, c), nn.SiLU(),          # resolution / 2
            _block(c, 2 * c, 2), Residual(2 * c),                             # / 4
            _block(2 * c, 4 * c, 2), Residual(4 * c),                         # / 8
            _block(4 * c, 8 * c, 2),                                          # / 16
        )
        side = resolution // 16
        self.head = nn.Linear(8 * c * side * side, dim)

    def forward(self, x):
        return self.head(self.features(x).flatten(1))


def whitening(data_dir):
    """(mean [E], L^-1 [E, E]) of the training embeddings: the same statistics (identity_stats.json, or
    computed from the shards) that whiten the face projector's input."""
    from .export import identity_prior
    prior, _ = identity_prior(data_dir)
    mean = torch.tensor(prior["mean"], dtype=torch.float64)
    L = torch.tensor(prior["cholesky"], dtype=torch.float64)
    return mean.float(), torch.linalg.inv(L).float()


def load_crops(data_dir, split, resolution=64):
    """(images uint8 [N,3,H,W], raw embeddings [N,E], persons [N]) of the training or held-out shards."""
    if split == "train":
        holdout = read_holdout(data_dir)
        samples = [s for sh in list_shards(data_dir) for s in iter_shard(sh, holdout)]
    else:
        samples = [s for sh in list_holdout_shards(data_dir) for s in iter_shard(sh, set(), validation=True)]
    if not samples:
        raise ValueError(f"{data_dir}: no {split} samples")
    imgs = np.stack([load_image(read_image_bytes(s["jpg"]), resolution) for s in samples])
    imgs = torch.from_numpy(((imgs + 1.0) * 127.5).round().clip(0, 255).astype(np.uint8))
    emb = torch.from_numpy(np.stack([s["embedding"] for s in samples]))
    return imgs, emb, [person_of(s["meta"]) for s in samples]


def to_float(u8):
    return u8.float() / 127.5 - 1.0


def random_blur(x, gen, p=0.5, max_sigma=2.0):
    """Gaussian blur of a random strength on a random half of the batch: the denoised estimates the
    identity loss judges are blurred at high noise, so the network must read identity there too."""
    B = x.shape[0]
    sig = torch.rand(B, generator=gen) * max_sigma
    sig = torch.where(torch.rand(B, generator=gen) < p, sig, torch.zeros(B))
    r = 4
    k = torch.arange(-r, r + 1, dtype=torch.float32)
    w = torch.exp(-k[None] ** 2 / (2 * sig[:, None].clamp(min=1e-3) ** 2))
    w = w / w.sum(dim=1, keepdim=True)                       # [B, 2r+1]; sigma ~0: a delta
    C = x.shape[1]
    xs = x.reshape(1, B * C, *x.shape[2:])
    wk = w.repeat_interleave(C, dim=0)
    xs = F.conv2d(F.pad(xs, (r, r, 0, 0), mode="replicate"), wk[:, None, None, :], groups=B * C)
    xs = F.conv2d(F.pad(xs, (0, 0, r, r), mode="replicate"), wk[:, None, :, None], groups=B * C)
    return xs.reshape_as(x)


@torch.no_grad()
def identification(z, persons, z_ref=None):
    """Top-1 identification like `face0 eval`'s: each image's embedding against every person's mean
    reference embedding over their other photos (z_ref: the teacher's), cosine; people with one photo skipped."""
    z_ref = z if z_ref is None else z_ref
    people = sorted({p for p in persons if p is not None})
    idx = {p: [i for i, q in enumerate(persons) if q == p] for p in people}
    people = [p for p in people if len(idx[p]) > 1]
    zn, rn = F.normalize(z, dim=1), F.normalize(z_ref, dim=1)
    hits = n = 0
    for p in people:
        for i in idx[p]:
            cents = []
            for q in people:
                others = [j for j in idx[q] if j != i]
                cents.append(rn[others].mean(0))
            sims = F.cosine_similarity(zn[i][None], torch.stack(cents), dim=1)
            hits += int(people[int(sims.argmax())] == p)
            n += 1
    return hits / max(n, 1), len(people)


@torch.no_grad()
def embed(net, u8, batch=256):
    was = net.training
    net.eval()
    out = torch.cat([net(to_float(u8[i:i + batch])) for i in range(0, u8.shape[0], batch)])
    net.train(was)
    return out


def distill(data_dir, out_path, epochs=12, batch=128, lr=2e-3, seconds=None, width=32, seed=0, log=print):
    """Train FaceIdNet on the training crops against their whitened face-api descriptors (1 - cosine);
    report the held-out people's figures each epoch and keep the weights of the best held-out cosine."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    mean, W = whitening(data_dir)
    t0 = time.time()
    x_tr, e_tr, _ = load_crops(data_dir, "train")
    x_ho, e_ho, p_ho = load_crops(data_dir, "holdout")
    z_tr, z_ho = (e_tr - mean) @ W.t(), (e_ho - mean) @ W.t()
    teacher_top1, n_people = identification(z_ho, p_ho)
    log(f"distill: {len(x_tr)} training crops, {len(x_ho)} held-out crops of {n_people} people "
        f"({time.time() - t0:.0f} s to decode); the teacher's own top-1 on them: {teacher_top1:.3f}")
    net = FaceIdNet(width=width, resolution=x_tr.shape[-1])
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.05)
    steps_per_epoch = max(1, len(x_tr) // batch)        # fewer crops than a batch: one step of them all
    total = epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 100) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / total))))
    best, history, step, t_start = None, [], 0, time.time()
    for epoch in range(epochs):
        order = torch.randperm(len(x_tr), generator=gen)
        loss_sum, n_b = 0.0, 0
        for b in range(steps_per_epoch):
            idx = order[b * batch:(b + 1) * batch]
            x = to_float(x_tr[idx])
            flip = torch.rand(len(idx), generator=gen) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(3), x)
            x = random_blur(x, gen)
            loss = (1 - F.cosine_similarity(net(x), z_tr[idx], dim=1)).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            loss_sum += float(loss)
            n_b += 1
            if seconds is not None and time.time() - t_start >= seconds:
                break
        zh = embed(net, x_ho)
        cos = float(F.cosine_similarity(zh, z_ho, dim=1).mean())
        top1, _ = identification(zh, p_ho, z_ho)
        row = {"epoch": epoch + 1, "step": step, "train_loss": loss_sum / max(n_b, 1), "holdout_cos": cos,
               "holdout_top1": top1, "teacher_top1": teacher_top1, "seconds": round(time.time() - t_start, 1)}
        history.append(row)
        log(f"epoch {epoch + 1}/{epochs} | train 1-cos {row['train_loss']:.4f} | held-out cos to teacher {cos:.4f} "
            f"| held-out top-1 {top1:.3f} (teacher {teacher_top1:.3f}, chance {1 / n_people:.3f}) | {row['seconds']:.0f} s")
        if best is None or cos > best["holdout_cos"]:
            best = dict(row)
            save_idnet(net, mean, W, out_path, {"best": best, "history": history, "data": os.path.abspath(data_dir)})
        if seconds is not None and time.time() - t_start >= seconds:
            log("distill: time budget spent")
            break
    return best


def save_idnet(net, mean, W, path, info):
    from .train import atomic_save                  # (train imports this module)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    atomic_save({"format": IDNET_FORMAT, "config": net.config, "state": net.state_dict(),
                 "mean": mean, "whiten": W, "info": info}, path)


def load_idnet(path, device="cpu"):
    """The frozen FaceIdNet of `distill` (eval mode, no gradients to its own weights)."""
    path = resolve_path(path)
    if not path or not os.path.exists(path):
        raise FileNotFoundError(f"train.id_net={path!r}: no such file (make one with "
                                "`python3 -m face0_trainer distill-id --data DATA --out FILE`)")
    from .train import torch_load
    d = torch_load(path)
    if d.get("format") != IDNET_FORMAT:
        raise ValueError(f"{path}: not a {IDNET_FORMAT} file")
    net = FaceIdNet(**d["config"])
    net.load_state_dict(d["state"])
    net.eval().requires_grad_(False)
    return net.to(device)


def id_loss(idnet, x0_hat, x0, face_mask):
    """Mean over samples with a face of 1 - cos(identity of x0_hat, identity of x0); 0 when none has one.
    Gradients reach x0_hat (the model), not the frozen network or the target."""
    if not bool(face_mask.any()):
        return x0_hat.sum() * 0.0
    with torch.no_grad():
        ref = idnet(x0)
    cos = F.cosine_similarity(idnet(x0_hat), ref, dim=1)
    m = face_mask.float()
    return ((1 - cos) * m).sum() / m.sum()
