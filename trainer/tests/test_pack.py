"""The GPU machine's data pack (pack.py), resuming with changed train settings, and scripts/gpu-train.sh
run end to end on CPU with the tiny config (so its first GPU run is not its first run)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from face0_trainer.data import (iter_shard, list_holdout_shards, list_shards, load_image, read_holdout,
                                read_image_bytes)
from face0_trainer.pack import pack, read_pack, unpack
from face0_trainer.relay import load_state, save_state
from face0_trainer.train import load_checkpoint, train

TRAINER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(TRAINER)
KW = dict(config="tiny", ckpt_every=0, sample_every=0, quiet=True, batch=4, num_workers=0, val_every=0)


def samples(data_dir):
    holdout = read_holdout(data_dir)
    out = {}
    for sh in list_shards(data_dir):
        for s in iter_shard(sh, holdout):
            out[s["key"]] = s
    for sh in list_holdout_shards(data_dir):
        for s in iter_shard(sh, set(), validation=True):
            out[s["key"]] = s
    return out


def pixels(s, res=64):
    return load_image(read_image_bytes(s["jpg"]), res)


def test_pack_round_trip_keeps_every_sample_close(shards, tmp_path):
    p = str(tmp_path / "data.f0p")
    info = pack(shards, p, log=lambda *a: None)
    out = str(tmp_path / "unpacked")
    unpack(p, out, log=lambda *a: None)
    a, b = samples(shards), samples(out)
    assert set(a) == set(b) and info["samples"] == len(a)          # held-out training samples stay out
    assert sorted(os.listdir(out)) == sorted(f for f in os.listdir(shards)
                                             if f.endswith(".tar") or f in ("holdout.txt", "manifest.json",
                                                                            "identity_stats.json"))
    for k in a:
        assert b[k]["caption"] == a[k]["caption"]
        assert b[k]["meta"]["identity"] == a[k]["meta"]["identity"]
        np.testing.assert_allclose(b[k]["embedding"], a[k]["embedding"], atol=1e-3)
        err = np.abs(pixels(b[k]) - pixels(a[k])).mean() * 127.5    # grey levels
        assert err < 12, (k, err)                                      # synthetic noise images: the worst case
    assert read_holdout(out) == read_holdout(shards)


def test_pack_refuses_a_file_that_is_not_one(tmp_path):
    p = tmp_path / "x.f0p"
    import tarfile
    with tarfile.open(p, "w"):
        pass
    with pytest.raises(ValueError, match="not a face0 pack"):
        read_pack(str(p))


def test_resume_with_a_larger_batch_restarts_the_epoch_and_records_the_change(shards, tmp_path):
    out = str(tmp_path / "a")
    train(shards, out, stage="joint", steps=3, **KW)
    st = str(tmp_path / "state")
    save_state(os.path.join(out, "ckpt.pt"), st)
    out2 = str(tmp_path / "b")
    train(shards, out2, stage="joint", steps=5, resume=True, state_dir=st, overrides=["train.batch=6"], **KW)
    ck = load_checkpoint(os.path.join(out2, "ckpt.pt"))
    assert ck["config"]["train"]["batch"] == 6 and ck["step"] == 5
    assert ck["images"] == 3 * 4 + 2 * 6
    assert ck["segments"][-1]["changed"] == ["train.batch=6"]
    with pytest.raises(ValueError, match="only train"):
        train(shards, str(tmp_path / "c"), stage="joint", steps=6, resume=True, state_dir=st,
              overrides=["model.text_layers=2"], **KW)


def test_gpu_train_script_runs_on_cpu_and_comes_back(shards, tmp_path):
    p = str(tmp_path / "pack.f0p")
    pack(shards, p, log=lambda *a: None)
    out = tmp_path / "OUT"
    env = dict(os.environ, PY=sys.executable, PACK=p, OUT=str(out), WORK=str(tmp_path / "work"), FROM="scratch",
               CONFIG="tiny", BATCH="4", TRAIN_SECONDS="6", VAL_EVERY="2", FACE0_THREADS="1")
    r = subprocess.run(["bash", os.path.join(ROOT, "scripts", "gpu-train.sh"), "run"], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    files = sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs)
    # the device returns at most 8 files of at most 16 MiB
    assert len(files) <= 8 and all(os.path.getsize(out / f) <= 16 * 2 ** 20 for f in files)
    assert {"last/state.json", "best/state.json", "metrics.jsonl", "train.log"} <= set(files)
    assert any(f.startswith("last/state.pt.part-") for f in files)
    assert "resume" not in r.stdout and "stage joint | config tiny" in r.stdout
    assert "decoded into cpu memory" in r.stdout and "best held-out face gain so far" in r.stdout
    # back here: the parts join into a state the relay loads (sha256 checked), then a bundle
    env_r = dict(env, FACE0_RELAY_DATA=shards, FROM=str(tmp_path / "none"))
    ws = tmp_path / "ws"                  # `receive` writes under the repository's work/gpu: use a copy of it
    os.makedirs(ws / "scripts")
    os.symlink(os.path.join(ROOT, "trainer"), ws / "trainer")
    with open(os.path.join(ROOT, "scripts", "gpu-train.sh")) as f, open(ws / "scripts" / "gpu-train.sh", "w") as g:
        g.write(f.read())
    r = subprocess.run(["bash", str(ws / "scripts" / "gpu-train.sh"), "receive", str(out)], env=env_r,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    ck = load_state(str(ws / "work" / "gpu" / "last"))
    assert ck["step"] > 0 and ck["config"]["name"] == "tiny" and ck["config"]["train"]["in_memory"]
    assert ck["ema_only"]                       # what the relay commits (relay.sh finish does the same)
    best = load_state(str(ws / "work" / "gpu" / "best"))
    assert 0 < best["step"] <= ck["step"]
    assert json.load(open(ws / "work" / "gpu" / "bundle" / "manifest.json"))["name"] == "face0-64"
    assert "face gain of" in r.stdout
