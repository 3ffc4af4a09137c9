"""Attribute classifier for `face0 eval`'s prompt fidelity (DESIGN.md: "a classifier not used in
generation").

A small CNN (4 conv blocks, ~0.3M parameters) trained with a multi-label BCE on the 64x64 aligned
crops of the CelebA samples of an augmented dataset (CONTRACTS.md section 1), held-out identities
skipped before their image is read. Validation: 90/10 split by identity. Exported as
`attributes.onnx` (input `image` float32 [B,3,64,64] RGB NCHW in [-1,1], output `logits` float32
[B,A], opset 17, dynamic batch) and `attributes.json` (names, input, validation metrics, data).

`No_Beard` is kept as CelebA names it; consumers report "beard" as NOT No_Beard.
"""
import io
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

from .data import iter_shard, list_shards, read_holdout, is_held_out

ATTRIBUTES = ["Eyeglasses", "Wearing_Hat", "Blond_Hair", "Black_Hair", "Gray_Hair", "Brown_Hair",
              "Smiling", "Male", "Young", "No_Beard", "Mustache", "Bald", "Heavy_Makeup"]
RESOLUTION = 64


class AttributeNet(nn.Module):
    """conv5x5/2 - BN - ReLU, 3 x (conv3x3 - BN - ReLU - maxpool2), global average pool, dropout, linear."""

    def __init__(self, n_out, width=32):
        super().__init__()
        chans = [3, width, 2 * width, 4 * width, 6 * width]
        # block 1: 5x5 stride-2 conv (64 -> 32 px; 2.5x cheaper on CPU than conv + pool at 64 px)
        layers = [nn.Conv2d(3, chans[1], 5, stride=2, padding=2, bias=False), nn.BatchNorm2d(chans[1]),
                  nn.ReLU(inplace=True)]
        for i in range(1, 4):       # blocks 2-4: 32 -> 16 -> 8 -> 4 px
            layers += [nn.Conv2d(chans[i], chans[i + 1], 3, padding=1, bias=False),
                       nn.BatchNorm2d(chans[i + 1]), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
        self.features = nn.Sequential(*layers)
        self.drop = nn.Dropout(0.2)
        self.head = nn.Linear(chans[-1], n_out)

    def forward(self, image):
        h = self.features(image).mean(dim=(2, 3))
        return self.head(self.drop(h))


def _decode(jpg):
    img = Image.open(io.BytesIO(jpg)).convert("RGB")
    if img.size != (RESOLUTION, RESOLUTION):
        img = img.resize((RESOLUTION, RESOLUTION), Image.BICUBIC)
    return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)


def load_celeba(data_dir, attributes=ATTRIBUTES, log=print):
    """All CelebA training samples: images uint8 [N,3,64,64], labels float32 [N,A], mask float32
    [N,A] (0 where the sample lacks the attribute), identities (list of str or None), counts."""
    holdout = read_holdout(data_dir)
    stats = {}
    imgs, labels, mask, idents = [], [], [], []
    skipped_source = 0
    for shard in list_shards(data_dir):
        with open(shard, "rb") as f:
            for r in iter_shard(shard, holdout, stats):
                meta = r["meta"]
                if meta.get("source") != "celeba":
                    skipped_source += 1
                    continue
                if is_held_out(meta, holdout):      # iter_shard skips them already: check again
                    raise RuntimeError(f"held-out sample {r['key']} reached the attribute trainer")
                a = meta.get("attributes") or {}
                _, off, size = r["jpg"]
                f.seek(off)
                imgs.append(_decode(f.read(size)))
                labels.append([1.0 if a.get(k) else 0.0 for k in attributes])
                mask.append([1.0 if k in a else 0.0 for k in attributes])
                idents.append(None if meta.get("identity") is None else str(meta["identity"]))
    if not imgs:
        raise RuntimeError(f"{data_dir}: no CelebA samples (meta.source == 'celeba') in the shards")
    counts = {"celeba": len(imgs), "other_sources_skipped": skipped_source,
              "held_out_skipped": stats.get("held_out", 0), "incomplete_skipped": stats.get("incomplete", 0),
              "held_out_identities": len(holdout)}
    log(f"loaded {len(imgs)} CelebA samples ({skipped_source} of other sources skipped, "
        f"{counts['held_out_skipped']} held-out samples skipped unread)", flush=True)
    return (np.stack(imgs), np.asarray(labels, np.float32), np.asarray(mask, np.float32), idents, counts)


def split_by_identity(idents, val_fraction=0.1, seed=0):
    """Boolean validation mask: a seeded 10% of the identities (samples without identity: train)."""
    ids = sorted({i for i in idents if i is not None})
    order = np.random.default_rng(seed).permutation(len(ids))
    n_val = max(1, int(round(val_fraction * len(ids)))) if len(ids) >= 2 else 0
    val_ids = {ids[i] for i in order[:n_val]}
    return np.array([i in val_ids for i in idents], dtype=bool), sorted(val_ids)


def to_float(u8):
    return torch.from_numpy(u8).float().div_(127.5).sub_(1.0)


def augment(x, rng):
    """Random horizontal flips and shifts of up to 4 px (replicate padding), per sample."""
    B = x.shape[0]
    flip = torch.from_numpy(rng.random(B) < 0.5)
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    p = 4
    xp = F.pad(x, (p, p, p, p), mode="replicate")
    dx, dy = rng.integers(0, 2 * p + 1, B), rng.integers(0, 2 * p + 1, B)
    return torch.stack([xp[i, :, dy[i]:dy[i] + RESOLUTION, dx[i]:dx[i] + RESOLUTION] for i in range(B)])


def predict(model, u8, batch=256):
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(u8), batch):
            out.append(model(to_float(u8[i:i + batch])))
    return torch.cat(out).numpy() if out else np.zeros((0, model.head.out_features), np.float32)


def metrics(logits, labels, mask, attributes):
    """Per attribute: accuracy, balanced accuracy (mean of TPR and TNR; null when a class is
    absent), positives, n; decision logit > 0."""
    pred = logits > 0
    res = {}
    for j, name in enumerate(attributes):
        m = mask[:, j] > 0
        y, p = labels[m, j] > 0.5, pred[m, j]
        n, pos = int(m.sum()), int(y.sum())
        acc = float((y == p).mean()) if n else None
        tpr = float(p[y].mean()) if pos else None
        tnr = float((~p[~y]).mean()) if n - pos else None
        bal = (tpr + tnr) / 2 if tpr is not None and tnr is not None else None
        rnd = lambda v: None if v is None else round(v, 4)  # noqa: E731
        res[name] = {"accuracy": rnd(acc), "balanced_accuracy": rnd(bal), "tpr": rnd(tpr), "tnr": rnd(tnr),
                     "positives": pos, "n": n}
    return res


def train_attributes(data_dir, out, seconds=300.0, epochs=40, batch=64, lr=2e-3, width=32, seed=0,
                     attributes=ATTRIBUTES, threads=1, log=print):
    t0 = time.time()
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    X, Y, M, idents, counts = load_celeba(data_dir, attributes, log=log)
    val, val_ids = split_by_identity(idents, seed=seed)
    tr = ~val
    Xtr, Ytr, Mtr = X[tr], torch.from_numpy(Y[tr]), torch.from_numpy(M[tr])
    n_tr = len(Xtr)
    if n_tr < 2:
        raise RuntimeError(f"only {n_tr} training samples")
    bs = min(batch, n_tr)
    log(f"train {n_tr} samples / {len({i for i in np.asarray(idents, object)[tr] if i is not None})} identities, "
        f"validation {int(val.sum())} samples / {len(val_ids)} identities", flush=True)

    # positive weight sqrt(neg/pos) (clipped to [0.1, 10]): helps the rare class of each attribute
    # (positives of Eyeglasses, negatives of Young / No_Beard) without turning the decision
    # (logit > 0) into a fully balanced one
    pos = (Ytr * Mtr).sum(0)
    neg = ((1 - Ytr) * Mtr).sum(0)
    pos_weight = torch.sqrt(neg.clamp(min=1) / pos.clamp(min=1)).clamp(0.1, 10.0)

    model = AttributeNet(len(attributes), width)
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps_per_epoch = max(1, n_tr // bs)
    total = steps_per_epoch * epochs
    warm = min(50, max(1, total // 10))
    t_train = time.time()
    step, ep, stop = 0, 0, False
    while ep < epochs and not stop:
        model.train()
        order = rng.permutation(n_tr)
        tot_loss, nb = 0.0, 0
        for b in range(steps_per_epoch):
            el = time.time() - t_train
            if seconds is not None and el >= seconds:
                stop = True
                break
            progress = max(step / total, el / seconds if seconds else 0.0)
            cur = lr * min(1.0, (step + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
            for g in opt.param_groups:
                g["lr"] = cur
            idx = order[b * bs:(b + 1) * bs]
            x = augment(to_float(Xtr[idx]), rng)
            y, m = Ytr[idx], Mtr[idx]
            loss = F.binary_cross_entropy_with_logits(model(x), y, weight=m, pos_weight=pos_weight,
                                                      reduction="sum") / m.sum().clamp(min=1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            tot_loss += float(loss)
            nb += 1
            step += 1
        if nb:
            ep += 1
            log(f"epoch {ep} step {step} loss {tot_loss / nb:.4f} lr {cur:.2e} "
                f"{time.time() - t_train:.0f}s", flush=True)
    train_seconds = time.time() - t_train

    has_val = bool(val.any())
    vm = metrics(predict(model, X[val]), Y[val], M[val], attributes) if has_val else {}
    tm = metrics(predict(model, X[tr][:2000]), Y[tr][:2000], M[tr][:2000], attributes)
    if has_val:
        log(f"{'attribute':14s} {'val acc':>8s} {'bal acc':>8s} {'pos/n':>9s}  {'train acc':>9s}", flush=True)
        for k in attributes:
            v = vm[k]
            fm = lambda z: "   n/a" if z is None else f"{z:.3f}"  # noqa: E731
            log(f"{k:14s} {fm(v['accuracy']):>8s} {fm(v['balanced_accuracy']):>8s} "
                f"{v['positives']:>4d}/{v['n']:<4d}  {fm(tm[k]['accuracy']):>9s}", flush=True)

    os.makedirs(out, exist_ok=True)
    model.eval()
    path = os.path.join(out, "attributes.onnx")
    from .export import onnx_export, ort_parity
    feeds = {"image": to_float(X[:4])}
    onnx_export(model, (feeds["image"],), path, ["image"], ["logits"])
    parity = ort_parity(path, model, feeds)
    log(f"attributes.onnx: {os.path.getsize(path) / 1e6:.2f} MB, "
        + (f"onnxruntime parity max |diff| {parity:.2e}" if parity is not None else "parity NOT checked (no onnxruntime)"),
        flush=True)
    summary = {
        "format_version": 1,
        "attributes": list(attributes),
        "derived": {"Beard": "NOT No_Beard", "Old": "NOT Young", "Female": "NOT Male"},
        "decision": "logit > 0 (sigmoid > 0.5)",
        "input": {"name": "image", "shape": ["batch", 3, RESOLUTION, RESOLUTION], "dtype": "float32",
                  "layout": "NCHW RGB", "pixel_range": [-1, 1],
                  "alignment": "src/face/align.ts alignFace(img, landmarks5, 64, FRAMINGS.portrait), as the augment crops"},
        "output": {"name": "logits", "shape": ["batch", len(attributes)], "dtype": "float32"},
        "opset": 17,
        "model": {"type": "conv5x5/2-BN-ReLU + 3 x (conv3x3-BN-ReLU-maxpool) + GAP + dropout + linear", "width": width,
                  "params": n_params},
        "validation": {"split": "90/10 by identity (seeded)", "identities": len(val_ids), "identity_list": val_ids,
                       "samples": int(val.sum()), "per_attribute": vm},
        "train_accuracy": {k: tm[k]["accuracy"] for k in attributes},
        "trained_on": {"data": os.path.basename(os.path.abspath(data_dir)), "shards": len(list_shards(data_dir)),
                       **counts, "held_out_identity_list": sorted(read_holdout(data_dir)), "train_samples": n_tr, "epochs": ep, "steps": step, "batch": bs,
                       "pos_weight": [round(float(v), 3) for v in pos_weight], "seed": seed,
                       "torch": torch.__version__},
        "onnxruntime_parity": parity,
        "seconds": round(time.time() - t0, 1),
        "train_seconds": round(train_seconds, 1),
        "license": "non-commercial research only (trained on CelebA)",
    }
    with open(os.path.join(out, "attributes.json"), "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    log(f"wrote {out}/attributes.onnx and attributes.json ({summary['seconds']} s)", flush=True)
    return summary
