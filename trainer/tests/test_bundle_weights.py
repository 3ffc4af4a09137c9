"""A bundle's ONNX weights read back (bundle_weights.py) and relay states that name a bundle instead of
holding weights (relay.py, format 3)."""
import gzip
import json
import os
import shutil
import subprocess
import sys

import pytest
import torch

from face0_trainer.bundle_weights import state_dict_from_bundle
from face0_trainer.export import export, sha256
from face0_trainer.relay import load_state, save_state, state_from_bundle
from face0_trainer.summary import read_metrics
from face0_trainer.train import load_checkpoint, train

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KW = dict(config="tiny", ckpt_every=0, sample_every=0, quiet=True, batch=4, num_workers=0, val_every=0)


@pytest.fixture(scope="module")
def joint_run(shards, tmp_path_factory):
    """A tiny joint run of 3 steps: its state (the base), then 2 more steps and their bundle."""
    root = tmp_path_factory.mktemp("bw")
    run = str(root / "run")
    train(shards, run, stage="joint", steps=3, **KW)
    base = str(root / "base")
    save_state(os.path.join(run, "ckpt.pt"), base)
    train(shards, run, steps=5, resume=True, **KW)
    bundle = str(root / "bundle")
    export(os.path.join(run, "ckpt.pt"), shards, bundle)
    return {"root": root, "ckpt": os.path.join(run, "ckpt.pt"), "base": base, "bundle": bundle}


def test_weights_read_back_from_a_bundle_are_the_exported_ema_bit_for_bit(joint_run):
    ck = load_checkpoint(joint_run["ckpt"])
    sd = state_dict_from_bundle(joint_run["bundle"])
    assert set(sd) == set(ck["ema"])
    for k, v in ck["ema"].items():
        assert torch.equal(sd[k], v.float()), k
    # the weights differ from the training weights, so the test could tell EMA from model apart
    assert any(not torch.equal(ck["model"][k], ck["ema"][k]) for k in ck["ema"])


def test_a_bundle_backed_state_is_small_resumes_and_refuses_another_bundle(joint_run, shards):
    root, ckpt, bundle = joint_run["root"], joint_run["ckpt"], joint_run["bundle"]
    st = str(root / "state-b")
    info = save_state(ckpt, st, bundle=bundle, reset_cooldown=True)
    assert info["format"] == "face0-relay-state-3" and info["bundle"] == os.path.abspath(bundle)
    assert info["bytes"] < 0.2 * os.path.getsize(os.path.join(bundle, "unet.onnx"))
    ck, back = load_checkpoint(ckpt), load_state(st)
    for k, v in ck["ema"].items():
        assert torch.equal(back["ema"][k], v.float()) and torch.equal(back["model"][k], v.float()), k
    assert back["compact"] and back["ema_only"] and back["from_bundle"] == os.path.abspath(bundle)
    assert back["data"]["positions"] == ck["data"]["positions"] and back["step"] == 5
    r = train(shards, str(root / "fresh"), steps=7, resume=True, state_dir=st, **KW)
    assert r["step"] == 7
    seg = load_checkpoint(str(root / "fresh" / "ckpt.pt"))["segments"][-1]
    assert seg["from_step"] == 5 and "bundle" in seg["resumed_from"]
    # a checkpoint whose EMA is not the bundle's weights is refused
    with pytest.raises(ValueError, match="not this checkpoint's EMA"):
        save_state(str(root / "fresh" / "ckpt.pt"), str(root / "state-x"), bundle=bundle)
    # the bundle replaced (another unet.onnx, manifest updated) without a new state: refused
    other = str(root / "bundle-other")
    export(str(root / "fresh" / "ckpt.pt"), shards, other)
    shutil.copy(os.path.join(other, "unet.onnx"), os.path.join(bundle, "unet.onnx"))
    man = json.load(open(os.path.join(bundle, "manifest.json")))
    saved = man["files"]["unet"]["sha256"]
    man["files"]["unet"]["sha256"] = sha256(os.path.join(bundle, "unet.onnx"))
    json.dump(man, open(os.path.join(bundle, "manifest.json"), "w"))
    try:
        with pytest.raises(ValueError, match="replaced"):
            load_state(st)
    finally:
        export(ckpt, shards, bundle)            # the module's bundle back as it was
        assert json.load(open(os.path.join(bundle, "manifest.json")))["files"]["unet"]["sha256"] == saved


def test_state_from_bundle_takes_the_bundles_step_and_weights_and_the_bases_data(joint_run):
    root = joint_run["root"]
    out = str(root / "state-fb")
    info = state_from_bundle(joint_run["base"], joint_run["bundle"], out, machine="test machine")
    ck, base, back = load_checkpoint(joint_run["ckpt"]), load_state(joint_run["base"]), load_state(out)
    assert info["step"] == 5 and back["images"] == ck["images"] and back["seconds"] == pytest.approx(ck["seconds"], abs=0.1)
    for k, v in ck["ema"].items():
        assert torch.equal(back["ema"][k], v.float()), k
    assert back["data"]["positions"] == base["data"]["positions"]
    seg = back["segments"][-1]
    assert (seg["from_step"], seg["to_step"], seg["machine"], seg["ranks"]) == (3, 5, "test machine", 1)
    assert seg["started_estimated"] and seg["started"] < json.load(open(os.path.join(joint_run["bundle"], "manifest.json")))["created"]
    assert back["config"]["train"]["cooldown_steps"] == 0
    # a bundle that is not past the base state is refused
    with pytest.raises(ValueError, match="not past"):
        state_from_bundle(out, joint_run["bundle"], str(root / "state-fb2"))


def test_relay_finish_writes_the_bundle_then_a_state_that_names_it(joint_run, shards):
    """scripts/relay.sh finish, as a sitting runs it: bundle first, then the weightless state, cooldown cleared."""
    root = joint_run["root"]
    run = os.path.join(os.path.dirname(joint_run["ckpt"]))
    # the committed curve holds the log's first rows: finish adds the rest as a part of their own
    lines = open(os.path.join(run, "metrics.jsonl"), "rb").read().splitlines(keepends=True)
    assert len(lines) >= 2
    os.makedirs(root / "finish-state")
    with gzip.open(root / "finish-state" / "metrics.jsonl.gz", "wb") as g:
        g.writelines(lines[:len(lines) // 2])
    env = dict(os.environ, FACE0_PYTHON=sys.executable, FACE0_RELAY_RUN=run, FACE0_RELAY_DATA=shards,
               FACE0_RELAY_STATE=str(root / "finish-state"), FACE0_RELAY_BUNDLE=str(root / "finish-bundle"))
    r = subprocess.run(["bash", os.path.join(ROOT, "scripts", "relay.sh"), "finish"], env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    info = json.load(open(root / "finish-state" / "state.json"))
    assert info["format"] == "face0-relay-state-3" and info["bundle"] == str(root / "finish-bundle")
    part = root / "finish-state" / f"metrics-{info['step']:08d}.jsonl.gz"
    assert gzip.open(part).read().splitlines(keepends=True) == lines[len(lines) // 2:] and info["file"] == "state.pt.xz"
    assert read_metrics(str(root / "finish-state")) == read_metrics(run)
    # a log that does not begin with the committed curve is written whole, the parts removed
    with gzip.open(root / "finish-state" / "metrics.jsonl.gz", "wb") as g:
        g.write(b'{"step": -1}\n')
    r = subprocess.run(["bash", os.path.join(ROOT, "scripts", "relay.sh"), "finish"], env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and "writing it whole" in r.stdout, r.stdout + r.stderr
    assert not part.exists() and read_metrics(str(root / "finish-state")) == read_metrics(run)
    ck, back = load_checkpoint(joint_run["ckpt"]), load_state(str(root / "finish-state"))
    for k, v in ck["ema"].items():
        assert torch.equal(back["ema"][k], v.float()), k
    assert back["config"]["train"]["cooldown_steps"] == 0 and back["step"] == ck["step"]
