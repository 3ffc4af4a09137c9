"""Synthetic shards per CONTRACTS.md section 1, for tests and the TypeScript fixture.
Random 64x64 images (smooth colour blobs), captions from a tiny vocabulary, random unit embeddings."""
import io
import json
import os
import tarfile

import numpy as np
from PIL import Image

from .data import add_member as add

WORDS_A = ["smiling", "serious", "young", "old", "happy"]
WORDS_B = ["woman", "man", "person", "child"]
WORDS_C = ["with glasses", "with a hat", "with blond hair", "with black hair", "with a beard", ""]
EMBEDDER = "face-api@1.7.15/faceRecognitionNet/align5-z1-y-0.15"  # docs/CONTRACTS.md §5


def caption(rng):
    c = f"a photo of a {WORDS_A[rng.integers(len(WORDS_A))]} {WORDS_B[rng.integers(len(WORDS_B))]} " \
        f"{WORDS_C[rng.integers(len(WORDS_C))]}"
    return c.strip()


def image(rng, size):
    yy, xx = np.mgrid[0:size, 0:size] / size
    base = rng.random(3) * 255
    img = np.zeros((size, size, 3))
    for _ in range(3):
        cx, cy, r = rng.random(3)
        col = rng.random(3) * 255
        mask = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (0.02 + 0.1 * r))
        img += mask[..., None] * col[None, None]
    img = np.clip(img + base * 0.3, 0, 255).astype(np.uint8)
    b = io.BytesIO()
    Image.fromarray(img).save(b, format="JPEG", quality=90)
    return b.getvalue()


def write_shards(out, n_shards=3, per_shard=24, size=64, seed=0, held_out_identity="celeba:999",
                 identity_stats=True, holdout_samples=8, caption_variants=0):
    """Writes shard-*.tar, holdout.txt, manifest.json (and identity_stats.json). Each shard has one
    sample of the held-out identity whose jpg is NOT a valid JPEG (reading it would fail).
    holdout-000000.tar holds `holdout_samples` valid samples of the held-out identity (validation).
    caption_variants > 1: each training sample's meta also lists that many captions (KEY.txt first; drawn
    from their own generator, so the rest of the data is the same as without)."""
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(seed)
    vrng = np.random.default_rng([seed, 7])
    embs = []
    for s in range(n_shards):
        path = os.path.join(out, f"shard-{s:06d}.tar")
        with tarfile.open(path + ".tmp", "w", format=tarfile.USTAR_FORMAT) as tf:
            for i in range(per_shard):
                key = f"s{s:03d}_{i:05d}"
                held = i == per_shard // 2
                ident = held_out_identity.split(":")[1] if held else str(int(rng.integers(20)))
                e = rng.standard_normal(128).astype(np.float32)
                e /= np.linalg.norm(e)
                if not held:
                    embs.append(e)
                b = io.BytesIO()
                np.save(b, e)
                meta = {"source": "celeba", "file": f"{key}.jpg", "identity": ident,
                        "attributes": {"Smiling": bool(rng.integers(2)), "Male": bool(rng.integers(2))},
                        "score": 0.99, "box": [0, 0, size, size],
                        "landmarks5": [[20, 25], [44, 25], [32, 38], [24, 48], [40, 48]],
                        "faces": 1, "size": size, "embedder": EMBEDDER}
                add(tf, key + ".jpg", b"NOT A JPEG: held-out image must never be read" if held else image(rng, size))
                txt = caption(rng)
                if caption_variants > 1:
                    meta["captions"] = [txt] + [caption(vrng) for _ in range(caption_variants - 1)]
                add(tf, key + ".txt", txt.encode())
                add(tf, key + ".npy", b.getvalue())
                add(tf, key + ".json", json.dumps(meta).encode())
        os.replace(path + ".tmp", path)
    if holdout_samples:
        path = os.path.join(out, "holdout-000000.tar")
        with tarfile.open(path + ".tmp", "w", format=tarfile.USTAR_FORMAT) as tf:
            for i in range(holdout_samples):
                key = f"h{i:05d}"
                e = rng.standard_normal(128).astype(np.float32)
                e /= np.linalg.norm(e)
                b = io.BytesIO()
                np.save(b, e)
                meta = {"source": "celeba", "file": f"{key}.jpg", "identity": held_out_identity.split(":")[1],
                        "attributes": {}, "score": 0.99, "box": [0, 0, size, size],
                        "landmarks5": [[20, 25], [44, 25], [32, 38], [24, 48], [40, 48]],
                        "faces": 1, "size": size, "embedder": EMBEDDER}
                add(tf, key + ".jpg", image(rng, size))
                add(tf, key + ".txt", caption(rng).encode())
                add(tf, key + ".npy", b.getvalue())
                add(tf, key + ".json", json.dumps(meta).encode())
        os.replace(path + ".tmp", path)
    with open(os.path.join(out, "holdout.txt"), "w") as f:
        f.write(held_out_identity + "\n")
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump({"synthetic": True, "shards": n_shards, "samples": n_shards * (per_shard - 1)}, f)
    if identity_stats:
        E = np.stack(embs).astype(np.float64)
        mean = E.mean(0)
        cov = np.cov(E, rowvar=False) + 1e-6 * np.eye(128)
        with open(os.path.join(out, "identity_stats.json"), "w") as f:
            json.dump({"embedder": EMBEDDER, "dim": 128, "count": len(embs), "mean": mean.tolist(),
                       "cholesky": np.linalg.cholesky(cov).tolist(), "directions": {}}, f)
    return out
