import hashlib
import json
import os
import shutil

import pytest

from face0_trainer.export import export


def sha(p):
    return hashlib.sha256(open(p, "rb").read()).hexdigest()


def test_export_bundle(shards, trained_run, tmp_path):
    out = str(tmp_path / "bundle")
    export(os.path.join(trained_run, "ckpt.pt"), shards, out)
    man = json.load(open(os.path.join(out, "manifest.json")))
    assert man["format_version"] == 1
    for k in ("text_encoder", "face_projector", "unet", "tokenizer"):
        f = man["files"][k]
        p = os.path.join(out, f["path"])
        assert os.path.getsize(p) > 0 and sha(p) == f["sha256"]
    assert os.path.getsize(os.path.join(out, "unet.onnx")) < 2e6
    assert man["license"] == "non-commercial research only (trained on CelebA and UTKFace)"
    assert man["image"] == {"resolution": 64, "channels": 3, "pixel_range": [-1, 1], "layout": "NCHW RGB"}
    assert man["text"] == {"context_length": 24, "width": 64, "face_tokens": 4}
    assert man["face"]["embedding_dim"] == 128 and man["face"]["embedder"].startswith("face-api@")
    assert man["schedule"]["type"] == "cosine" and len(man["schedule"]["betas"]) == 1000
    assert man["prediction_type"] == "v"
    assert man["unet_info"]["params"] > 0 and 0 < man["unet_info"]["gflops_per_eval"] < 1
    stats = json.load(open(os.path.join(shards, "identity_stats.json")))
    assert man["identity"]["mean"] == stats["mean"] and man["identity"]["count"] == stats["count"]
    assert len(man["identity"]["cholesky"]) == 128
    assert man["training"]["stages"][0]["stage"] == "base" and man["training"]["stages"][0]["steps"] == 3
    assert man["defaults"] == {"steps": 20, "sampler": "dpmpp_2m", "text_scale": 6.0, "face_scale": 4.0}
    tok = json.load(open(os.path.join(out, "tokenizer.json")))
    assert tok["vocab"][:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]


def test_export_without_identity_stats(shards, trained_run, tmp_path):
    data = str(tmp_path / "data")
    shutil.copytree(shards, data)
    os.remove(os.path.join(data, "identity_stats.json"))
    man = export(os.path.join(trained_run, "ckpt.pt"), data, str(tmp_path / "b"))
    assert man["identity"]["count"] == 69 and man["identity"]["directions"] == {}
    assert man["face"]["embedder"].startswith("face-api@")


def test_export_face_start(shards, trained_run, tmp_path):
    ckpt = os.path.join(trained_run, "ckpt.pt")
    man = export(ckpt, shards, str(tmp_path / "b"), face_start=0.25)
    assert man["defaults"]["face_start"] == 0.25
    assert json.load(open(tmp_path / "b" / "manifest.json"))["defaults"]["face_start"] == 0.25
    assert "face_start_random" not in man["defaults"]
    assert "guidance_rescale" not in man["defaults"]
    man = export(ckpt, shards, str(tmp_path / "r"), face_start=0.25, face_start_random=0, guidance_rescale=0.7)
    assert (man["defaults"]["face_start"], man["defaults"]["face_start_random"]) == (0.25, 0)
    assert man["defaults"]["guidance_rescale"] == 0.7
    with pytest.raises(ValueError, match=r"guidance rescale must be in \[0, 1\]"):
        export(ckpt, shards, str(tmp_path / "c"), guidance_rescale=1.5)
    for bad in (-0.1, 0.995):
        with pytest.raises(ValueError, match=r"face start must be in \[0, 0\.99\]"):
            export(ckpt, shards, str(tmp_path / "c"), face_start=bad)
        with pytest.raises(ValueError, match=r"face start random must be in \[0, 0\.99\]"):
            export(ckpt, shards, str(tmp_path / "c"), face_start_random=bad)
