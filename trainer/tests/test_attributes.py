"""Attribute classifier (face0_trainer.attributes) on tiny synthetic shards."""
import io
import json
import os
import tarfile

import numpy as np
import pytest
import torch
from PIL import Image

from face0_trainer.attributes import ATTRIBUTES, AttributeNet, load_celeba, split_by_identity, train_attributes
from face0_trainer.synth import EMBEDDER, add, image


def _jpeg(a):
    b = io.BytesIO()
    Image.fromarray(a).save(b, format="JPEG", quality=92)
    return b.getvalue()


def write_attr_shards(out, n_shards=2, per_shard=60, seed=0):
    """CelebA-like shards where Eyeglasses <=> a dark horizontal bar across the eyes (trivially
    separable), other attributes random; per shard one held-out sample with an invalid jpg and one
    utkface sample with an invalid jpg (neither may be decoded)."""
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(seed)
    for s in range(n_shards):
        with tarfile.open(os.path.join(out, f"shard-{s:06d}.tar"), "w", format=tarfile.USTAR_FORMAT) as tf:
            for i in range(per_shard):
                key = f"s{s:03d}_{i:05d}"
                src, ident, jpg = "celeba", str(int(rng.integers(20))), None
                glasses = bool(i % 2)
                if i == 3:
                    ident, jpg = "999", b"NOT A JPEG: held-out image must never be read"
                elif i == 5:
                    src, ident, jpg = "utkface", None, b"NOT A JPEG: utkface image must not be read"
                else:
                    a = np.asarray(Image.open(io.BytesIO(image(rng, 64))).convert("RGB")).copy()
                    if glasses:
                        a[24:32, 8:56] = 10
                    jpg = _jpeg(a)
                attrs = {k: bool(rng.integers(2)) for k in ATTRIBUTES if k != "Bald"}
                attrs["Eyeglasses"] = glasses
                if src == "utkface":
                    attrs = {"age": 30, "gender": "female", "race": "white"}
                meta = {"source": src, "file": f"{key}.jpg", "identity": ident, "attributes": attrs,
                        "score": 0.99, "box": [0, 0, 64, 64],
                        "landmarks5": [[20, 25], [44, 25], [32, 38], [24, 48], [40, 48]],
                        "faces": 1, "size": 64, "embedder": EMBEDDER}
                e = rng.standard_normal(128).astype(np.float32)
                e /= np.linalg.norm(e)
                b = io.BytesIO()
                np.save(b, e)
                add(tf, key + ".jpg", jpg)
                add(tf, key + ".txt", b"a photo of a person")
                add(tf, key + ".npy", b.getvalue())
                add(tf, key + ".json", json.dumps(meta).encode())
    with open(os.path.join(out, "holdout.txt"), "w") as f:
        f.write("celeba:999\n")
    return out


@pytest.fixture(scope="module")
def attr_shards(tmp_path_factory):
    return write_attr_shards(str(tmp_path_factory.mktemp("attrdata")))


def test_model_shapes():
    m = AttributeNet(len(ATTRIBUTES)).eval()
    assert m(torch.zeros(3, 3, 64, 64)).shape == (3, len(ATTRIBUTES))
    n = sum(p.numel() for p in m.parameters())
    assert 150_000 < n < 600_000


def test_load_skips_held_out_and_other_sources(attr_shards):
    X, Y, M, idents, counts = load_celeba(attr_shards, log=lambda *a, **k: None)
    assert X.shape == (2 * 58, 3, 64, 64) and X.dtype == np.uint8     # invalid jpgs never decoded
    assert Y.shape == M.shape == (2 * 58, len(ATTRIBUTES))
    assert "999" not in idents
    assert counts["held_out_skipped"] == 2 and counts["other_sources_skipped"] == 2
    assert M[:, ATTRIBUTES.index("Bald")].sum() == 0 and M[:, ATTRIBUTES.index("Eyeglasses")].all()
    val, val_ids = split_by_identity(idents)
    assert val_ids and set(np.asarray(idents)[val]) == set(val_ids)
    assert not set(np.asarray(idents)[~val]) & set(val_ids)


def test_train_export_learns(attr_shards, tmp_path):
    out = str(tmp_path / "attr")
    s = train_attributes(attr_shards, out, seconds=12, epochs=10, batch=16, lr=5e-3, width=8,
                         log=lambda *a, **k: None)
    j = json.load(open(os.path.join(out, "attributes.json")))
    assert j["attributes"] == ATTRIBUTES
    assert j["input"]["shape"] == ["batch", 3, 64, 64] and j["output"]["name"] == "logits"
    assert os.path.getsize(os.path.join(out, "attributes.onnx")) > 1000
    if j["onnxruntime_parity"] is not None:
        assert j["onnxruntime_parity"] < 1e-3
    assert j["trained_on"]["held_out_skipped"] == 2
    v = s["validation"]["per_attribute"]["Eyeglasses"]
    assert v["n"] > 0 and v["balanced_accuracy"] is not None
    assert v["accuracy"] >= 0.9, v
    assert s["validation"]["per_attribute"]["Bald"]["n"] == 0
