"""Joint stage, face gain on the held-out shards, config overrides and the relay's compact state."""
import gzip
import json
import os
import shutil

import pytest
import torch

from face0_trainer.config import apply_overrides, get_config
from face0_trainer.data import iter_shard, list_holdout_shards
from face0_trainer.model import Face0Model
from face0_trainer.export import sha256
from face0_trainer.relay import load_state, quantize_int8, save_state
from face0_trainer.schedule import Schedule
from face0_trainer.train import atomic_save, train, load_checkpoint, lr_factor, torch_load
from face0_trainer.validate import FaceGain

KW = dict(config="tiny", ckpt_every=0, sample_every=0, quiet=True, batch=4, num_workers=0)


def test_training_reader_refuses_holdout_shards(shards):
    (h,) = list_holdout_shards(shards)
    with pytest.raises(ValueError, match="held-out"):
        next(iter_shard(h, set()))
    assert len(list(iter_shard(h, {"celeba:999"}, validation=True))) == 8


def test_face_gain_is_zero_when_the_face_changes_nothing(shards, tokenizer, tiny_cfg):
    fg = FaceGain(shards, tokenizer, tiny_cfg, Schedule(1000), n=6, timesteps=(100, 900))
    assert fg.n == 6 and fg.x_t.shape[0] == 12

    class FaceBlind(torch.nn.Module):                   # ignores the face: gain must be exactly 0
        def __init__(self):
            super().__init__()
            self.m = Face0Model(tiny_cfg.model)

        def forward(self, x_t, t, ids, emb=None):
            return self.m(x_t, t, ids)

    r = fg(FaceBlind())
    assert r["face_gain"] == 0.0 and set(r["face_gain_by_t"]) == {"100", "900"}

    class FaceOracle(torch.nn.Module):                  # predicts v exactly when given the face: gain 1
        def forward(self, x_t, t, ids, emb=None):
            i = [int((fg.x_t - x).abs().flatten(1).sum(1).argmin()) for x in x_t]
            return fg.v[i] if emb is not None else torch.zeros_like(x_t)

    assert FaceGain.__call__(fg, FaceOracle())["face_gain"] == pytest.approx(1.0)


def test_joint_stage_trains_the_face_path_and_logs_face_gain(shards, tmp_path):
    out = str(tmp_path / "joint")
    train(shards, out, stage="joint", steps=4, val_every=2, val_samples=4, **KW)
    ck = load_checkpoint(os.path.join(out, "ckpt.pt"))
    assert ck["stage"] == "joint" and [h["stage"] for h in ck["provenance"]] == ["joint"]
    rows = [json.loads(x) for x in open(os.path.join(out, "metrics.jsonl"))]
    vals = [r for r in rows if "face_gain" in r]
    assert [r["step"] for r in vals] == [2, 4]
    assert all(set(r["face_gain_by_t"]) == {"100", "300", "500", "700", "900"} for r in vals)
    assert all(r["val_loss_face"] > 0 and r["val_loss_noface"] > 0 for r in vals)
    # the same samples with the generic caption: other losses, same keys
    assert all(r["generic_val_loss_face"] > 0 and r["generic_val_loss_face"] != r["val_loss_face"] for r in vals)
    assert all(set(r["generic_face_gain_by_t"]) == set(r["face_gain_by_t"]) for r in vals)


def test_face_gain_with_one_caption_gives_every_sample_that_caption(shards, tokenizer, tiny_cfg):
    from face0_trainer.validate import GENERIC_CAPTION
    own = FaceGain(shards, tokenizer, tiny_cfg, Schedule(1000), n=6, timesteps=(100,))
    gen = FaceGain(shards, tokenizer, tiny_cfg, Schedule(1000), n=6, timesteps=(100,), caption=GENERIC_CAPTION)
    m = tiny_cfg.model
    want = torch.tensor(tokenizer.encode(GENERIC_CAPTION, m.context_length, m.face_tokens))
    assert (gen.ids == want).all() and not (own.ids == want).all()
    assert torch.equal(gen.x_t, own.x_t) and "a photo of a person" in gen.describe()


def test_overrides_parse_and_refuse_unknown_fields():
    cfg = apply_overrides(get_config("cpu"), ["model.global_context=false", "train.lr=5e-4",
                                              "model.attn_resolutions=16,8", "train.min_snr_gamma=5"])
    assert cfg.model.global_context is False and cfg.train.lr == 5e-4
    assert cfg.model.attn_resolutions == (16, 8) and cfg.train.min_snr_gamma == 5.0
    for bad in ["model.nope=1", "lr=1", "train.lr", "model.global_context=maybe"]:
        with pytest.raises(ValueError):
            apply_overrides(get_config("cpu"), [bad])


def test_global_context_path_sees_the_face_tokens(tiny_cfg):
    m = apply_overrides(get_config("tiny"), ["model.global_context=true"]).model
    m.vocab_size = tiny_cfg.model.vocab_size
    torch.manual_seed(0)
    model = Face0Model(m).eval()
    torch.nn.init.normal_(model.unet.ctx_mlp[2].weight, std=0.5)   # leave the zero init
    x, t = torch.randn(1, 3, 64, 64), torch.tensor([500.0])
    ctx = model.text_encoder(torch.zeros(1, m.context_length, dtype=torch.long))
    ctx2 = ctx.clone()
    ctx2[:, -1] += 1.0                                              # change one face position only
    for blk in model.unet.modules():                                # no cross-attention route left
        if hasattr(blk, "cross_attn"):
            blk.cross_attn.out.weight.data.zero_()
            blk.cross_attn.out.bias.data.zero_()
    with torch.no_grad():
        assert not torch.allclose(model.unet(x, t, ctx), model.unet(x, t, ctx2))


def test_lr_rewarms_after_a_compact_resume():
    assert lr_factor(500, 100, 1000, "constant") == 1.0
    assert lr_factor(500, 100, 1000, "constant", rewarm_from=500) == pytest.approx(0.01)
    assert lr_factor(549, 100, 1000, "constant", rewarm_from=500) == pytest.approx(0.5)
    assert lr_factor(700, 100, 1000, "constant", rewarm_from=500) == 1.0


def test_lr_cooldown_falls_linearly_to_the_floor_and_stays():
    kw = dict(decay="constant", floor=0.1, cooldown=(1000, 200))
    assert lr_factor(999, 100, 10**7, **kw) == 1.0
    assert lr_factor(1000, 100, 10**7, **kw) == 1.0
    assert lr_factor(1100, 100, 10**7, **kw) == pytest.approx(0.55)
    assert lr_factor(1200, 100, 10**7, **kw) == pytest.approx(0.1)
    assert lr_factor(5000, 100, 10**7, **kw) == pytest.approx(0.1)
    # resumed from a compact state at the cooldown's start: the re-warm-up and the fall multiply
    assert lr_factor(1049, 100, 10**7, rewarm_from=1000, **kw) == pytest.approx(0.5 * (1 - 0.9 * 49 / 200))


def test_relay_state_round_trip_resume_and_refusals(shards, tmp_path):
    run, fresh, st = str(tmp_path / "run"), str(tmp_path / "fresh"), str(tmp_path / "state")
    train(shards, run, stage="joint", steps=3, val_every=0, **KW)
    ck = load_checkpoint(os.path.join(run, "ckpt.pt"))
    info = save_state(os.path.join(run, "ckpt.pt"), st)
    assert info["step"] == 3 and info["bytes"] < 0.4 * os.path.getsize(os.path.join(run, "ckpt.pt"))
    back = load_state(st)
    for k, v in ck["ema"].items():
        if v.is_floating_point():
            assert torch.allclose(back["ema"][k], v, atol=1e-3, rtol=1e-3), k
            assert torch.allclose(back["model"][k], ck["model"][k], atol=1e-3, rtol=1e-3), k
    assert back["data"]["positions"] == ck["data"]["positions"] and back["compact"] is True
    # a fresh run folder (a new machine) resumes from the state and keeps counting
    r = train(shards, fresh, steps=5, resume=True, state_dir=st, val_every=0, **KW)
    assert r["step"] == 5
    ck2 = load_checkpoint(os.path.join(fresh, "ckpt.pt"))
    assert ck2["rewarm_from"] == 3 and ck2["images"] == ck["images"] + 2 * 4
    assert [h["stage"] for h in ck2["provenance"]] == ["joint"] and ck2["provenance"][-1]["steps"] == 5
    segs = ck2["segments"]                      # one entry per process that trained: 0->3, then 3->5
    assert [(g["from_step"], g["to_step"]) for g in segs] == [(0, 3), (3, 5)]
    assert segs[1]["resumed_from"] == "relay state" and segs[0]["resumed_from"] is None
    assert segs[1]["to_images"] - segs[1]["from_images"] == 2 * 4 and "torch" in segs[0]["machine"]
    # refusals: a damaged file, another format, a missing folder
    with open(os.path.join(st, "state.pt"), "r+b") as f:
        f.seek(100)
        b = f.read(1)
        f.seek(100)
        f.write(bytes([b[0] ^ 0xFF]))
    with pytest.raises(ValueError, match="sha256"):
        load_state(st)
    meta = json.load(open(os.path.join(st, "state.json")))
    meta["format"] = "something-else"
    json.dump(meta, open(os.path.join(st, "state.json"), "w"))
    with pytest.raises(ValueError, match="format"):
        load_state(st)
    with pytest.raises(FileNotFoundError):
        load_state(str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="--state"):
        train(shards, str(tmp_path / "none"), steps=5, resume=True, **KW)


def test_whitened_projector_new_run_and_conversion(shards, tmp_path):
    import numpy as np
    from face0_trainer.train import model_from_checkpoint
    from face0_trainer.whiten import whiten_checkpoint
    stats = json.load(open(os.path.join(shards, "identity_stats.json")))
    # a new run takes mean and L^-1 from identity_stats.json
    out = str(tmp_path / "w")
    train(shards, out, stage="joint", steps=2, val_every=0, overrides=["model.whiten_embedding=true"], **KW)
    model, cfg, _ = model_from_checkpoint(load_checkpoint(os.path.join(out, "ckpt.pt")))
    assert cfg.model.whiten_embedding
    fp = model.face_projector
    L = np.array(stats["cholesky"])
    assert np.allclose(fp.emb_mean.numpy(), stats["mean"], atol=1e-6)
    assert np.allclose(fp.emb_whiten.numpy() @ L, np.eye(128), atol=1e-3)
    # converting an unwhitened checkpoint keeps the projector's function and resumes
    run = str(tmp_path / "plain")
    train(shards, run, stage="joint", steps=2, val_every=0, **KW)
    path = whiten_checkpoint(os.path.join(run, "ckpt.pt"), shards, str(tmp_path / "conv"))
    a, _, _ = model_from_checkpoint(load_checkpoint(os.path.join(run, "ckpt.pt")))
    b, cfg_b, _ = model_from_checkpoint(load_checkpoint(path))
    assert cfg_b.model.whiten_embedding and not a.face_projector.whiten
    e = torch.nn.functional.normalize(torch.randn(5, 128), dim=-1)
    assert torch.allclose(a.face_projector(e), b.face_projector(e), atol=1e-4)
    # the training embeddings come out of the whitening with unit variance along every direction they
    # span (69 synthetic samples span 68 of 128: their covariance becomes a projection, C C = C)
    from face0_trainer.data import iter_embeddings
    E = torch.from_numpy(np.stack(list(iter_embeddings(shards))))
    C = np.cov(((E - fp.emb_mean) @ fp.emb_whiten.t()).double().numpy(), rowvar=False)
    assert np.allclose(C @ C, C, atol=0.02) and abs(np.trace(C) - (len(E) - 1)) < 1.0
    r = train(shards, str(tmp_path / "conv"), steps=4, resume=True, val_every=0, **KW)
    assert r["step"] == 4
    with pytest.raises(ValueError, match="already"):
        whiten_checkpoint(path, shards, str(tmp_path / "again"))


def test_summary_lists_every_segment_of_a_relay_state(shards, tmp_path):
    from face0_trainer.summary import curve, segments
    out = str(tmp_path / "run")
    train(shards, out, stage="joint", steps=2, val_every=2, val_samples=4, **KW)
    train(shards, out, stage="joint", steps=4, resume=True, val_every=2, val_samples=4, **KW)
    st = str(tmp_path / "state")
    save_state(os.path.join(out, "ckpt.pt"), st)
    rows = segments(st).splitlines()[2:]
    assert len(rows) == 2 and "0 → 2" in rows[0] and "2 → 4" in rows[1] and "| 8 |" in rows[1]
    c = curve(out).splitlines()[2:]
    assert [r.split("|")[1].strip() for r in c] == ["2", "4"] and all(r.rstrip().endswith("% |") for r in c)
    # the committed state keeps the curve gzipped (relay.sh finish): the same rows from it
    with open(os.path.join(out, "metrics.jsonl"), "rb") as f, gzip.open(os.path.join(st, "metrics.jsonl.gz"), "wb") as g:
        shutil.copyfileobj(f, g)
    assert curve(st) == curve(out)


def denoiser_inputs(cfg):
    """Fixed random inputs of Face0Model.forward: three samples at t = 100, 500, 900."""
    g = torch.Generator().manual_seed(0)
    m = cfg.model
    x, t = torch.randn(3, m.channels, m.resolution, m.resolution, generator=g), torch.tensor([100.0, 500.0, 900.0])
    ids = torch.randint(0, m.vocab_size, (3, m.context_length), generator=g)
    return x, t, ids, torch.randn(3, m.embedding_dim, generator=g)


def test_grown_model_keeps_its_function_then_trains_the_new_blocks(shards, tmp_path):
    """`grow` adds cross-attention-only blocks at finer feature maps: the same function at first
    (zero output layers), then a run resumed from it moves them and the ONNX export carries them."""
    from face0_trainer.grow import grow_checkpoint
    from face0_trainer.train import model_from_checkpoint
    run = str(tmp_path / "plain")
    train(shards, run, stage="joint", steps=2, val_every=0, **KW)
    path, res = grow_checkpoint(os.path.join(run, "ckpt.pt"), [32, 16], str(tmp_path / "grown"))
    assert res == (32, 16)
    a, _, _ = model_from_checkpoint(load_checkpoint(os.path.join(run, "ckpt.pt")))
    b, cfg_b, _ = model_from_checkpoint(load_checkpoint(path))
    blocks = [m for m in b.unet.modules() if type(m).__name__ == "CrossAttentionBlock"]
    assert cfg_b.model.xattn_resolutions == (32, 16) and len(blocks) == 6   # tiny: 1 down + 2 up levels at each size
    x, t, ids, emb = denoiser_inputs(cfg_b)
    with torch.no_grad():
        assert torch.equal(a(x, t, ids, emb), b(x, t, ids, emb))
    r = train(shards, str(tmp_path / "grown"), steps=4, resume=True, val_every=0, **KW)
    assert r["step"] == 4
    c, _, _ = model_from_checkpoint(load_checkpoint(path), ema=False)
    moved = [m.cross_attn.out.weight.abs().max().item() for m in c.unet.modules() if type(m).__name__ == "CrossAttentionBlock"]
    assert all(w > 0 for w in moved), moved
    with torch.no_grad():
        assert not torch.allclose(a(x, t, ids, emb), c(x, t, ids, emb))
    # the ONNX graph carries the new blocks: export checks it against torch (raises above 1e-4)
    from face0_trainer.export import export
    man = export(path, shards, str(tmp_path / "bundle"))
    assert tuple(man["training"]["config"]["model"]["xattn_resolutions"]) == (32, 16)
    assert man["training"]["onnx_parity_max_abs_diff"]["unet"] is not None
    with pytest.raises(ValueError, match="already"):
        grow_checkpoint(path, [16], str(tmp_path / "again"))


def test_grown_transformers_keep_the_function_then_train(shards, tmp_path):
    """`grow --kind transformer` adds full spatial transformers (self- and cross-attention, feed-forward)
    at a feature map that had none, from a relay state folder: the same function at first (their
    proj_out starts at zero), then they train and export."""
    from face0_trainer.grow import grow_checkpoint
    from face0_trainer.relay import save_state, load_state
    from face0_trainer.train import model_from_checkpoint
    run = str(tmp_path / "plain")
    train(shards, run, stage="joint", steps=2, val_every=0, **KW)
    st = str(tmp_path / "state")
    save_state(os.path.join(run, "ckpt.pt"), st)
    path, res = grow_checkpoint(st, [32], str(tmp_path / "grown"), kind="transformer")
    assert res == (32, 16)
    a, _, _ = model_from_checkpoint(load_state(st))
    b, cfg_b, _ = model_from_checkpoint(load_checkpoint(path))
    new = [m for m in b.unet.modules() if type(m).__name__ == "SpatialTransformer" and m.proj_out.weight.abs().max() == 0]
    assert len(new) == 3 and cfg_b.model.xattn_resolutions == ()   # tiny: 1 down + 2 up levels at 32x32
    x, t, ids, emb = denoiser_inputs(cfg_b)
    with torch.no_grad():
        assert torch.equal(a(x, t, ids, emb), b(x, t, ids, emb))
    r = train(shards, str(tmp_path / "grown"), steps=4, resume=True, val_every=0, **KW)
    assert r["step"] == 4
    c, _, _ = model_from_checkpoint(load_checkpoint(path), ema=False)
    moved = [m.proj_out.weight.abs().max().item() for m in c.unet.modules() if type(m).__name__ == "SpatialTransformer"]
    assert len(moved) == len(new) + 4 and all(w > 0 for w in moved), moved   # the new three and tiny's four at 16
    from face0_trainer.export import export
    man = export(path, shards, str(tmp_path / "bundle"))
    assert tuple(man["training"]["config"]["model"]["attn_resolutions"]) == (32, 16)
    with pytest.raises(ValueError, match="already"):
        grow_checkpoint(path, [32], str(tmp_path / "again"), kind="transformer")


def test_save_state_can_reset_an_arms_cooldown(shards, tmp_path):
    """An A/B arm cools at its end; the relay goes on from its last uncooled checkpoint, which still
    carries the arm's cooldown: `save-state --reset-cooldown` clears it, and the resumed run's lr
    stays at the constant rate (only the re-warm-up after a compact resume)."""
    run = str(tmp_path / "arm")
    train(shards, run, stage="joint", steps=2, val_every=0,
          overrides=["train.cooldown_from=2", "train.cooldown_steps=2", "train.warmup=1",
                     "train.lr_decay=constant"], **KW)
    kept, reset = str(tmp_path / "kept"), str(tmp_path / "reset")
    save_state(os.path.join(run, "ckpt.pt"), kept)
    save_state(os.path.join(run, "ckpt.pt"), reset, reset_cooldown=True)
    tc = lambda st: load_state(st)["config"]["train"]
    assert (tc(kept)["cooldown_from"], tc(kept)["cooldown_steps"]) == (2, 2)
    assert (tc(reset)["cooldown_from"], tc(reset)["cooldown_steps"]) == (0, 0)
    lrs = {}
    for name, st in (("kept", kept), ("reset", reset)):
        out = str(tmp_path / f"on-{name}")
        train(shards, out, steps=5, resume=True, state_dir=st, val_every=0, log_every=1, **KW)
        rows = [json.loads(x) for x in open(os.path.join(out, "metrics.jsonl"))]
        lrs[name] = [r["lr"] for r in rows if "lr" in r]
    base = get_config("tiny").train.lr
    assert lrs["reset"][-1] == pytest.approx(base)                       # back at the constant lr
    assert lrs["kept"][-1] == pytest.approx(base * get_config("tiny").train.lr_floor)   # cooled again


def test_ema_only_state_is_half_the_bytes_and_restarts_the_weights_at_the_ema(shards, tmp_path):
    """`save-state --ema-only` drops the training weights (model - EMA): about half the bytes of the
    relay's committed history. A resume starts the training weights at the EMA and says so in its
    segment; the full state still restores weights that differ from the EMA."""
    run, full, ema_only = str(tmp_path / "run"), str(tmp_path / "full"), str(tmp_path / "ema")
    train(shards, run, stage="joint", steps=3, val_every=0, **KW)
    a = save_state(os.path.join(run, "ckpt.pt"), full)
    b = save_state(os.path.join(run, "ckpt.pt"), ema_only, ema_only=True)
    assert b["ema_only"] is True and a["ema_only"] is False
    assert b["bytes"] < 0.6 * a["bytes"]
    st_full, st_ema = load_state(full), load_state(ema_only)
    floats = [k for k, v in st_ema["ema"].items() if v.is_floating_point()]
    assert all(torch.equal(st_ema["model"][k], st_ema["ema"][k]) for k in floats)
    assert any(not torch.equal(st_full["model"][k], st_full["ema"][k]) for k in floats)
    out = str(tmp_path / "on-ema")
    r = train(shards, out, steps=5, resume=True, state_dir=ema_only, val_every=0, **KW)
    assert r["step"] == 5
    seg = load_checkpoint(os.path.join(out, "ckpt.pt"))["segments"][-1]
    assert seg["resumed_from"] == "relay state (EMA only)" and seg["from_step"] == 3


def test_int8_quantisation_error_is_within_half_a_step_of_each_channel():
    torch.manual_seed(0)
    w = torch.randn(16, 8, 3, 3) * torch.logspace(-3, 0, 16).reshape(16, 1, 1, 1)   # channels of very different size
    q = quantize_int8(w)
    err = (q.dequantize() - w).abs().reshape(16, -1).amax(1)
    step = w.abs().reshape(16, -1).amax(1) / 127
    assert torch.all(err <= step / 2 + 1e-7)
    assert torch.all(err > 0)          # it does round: a test that an fp32 copy would fail


def test_int8_ema_state_is_smaller_restores_a_close_ema_and_resumes(shards, tmp_path):
    """`save-state --ema-only --ema-int8`: the EMA's matrices in int8. Its bytes fall below the fp16
    EMA-only state's, the restored EMA is within a quantisation step of the checkpoint's, a resume runs
    and says what it resumed from, and a format-1 state (before int8) is still read."""
    run, fp16, q8 = str(tmp_path / "run"), str(tmp_path / "fp16"), str(tmp_path / "q8")
    train(shards, run, stage="joint", steps=3, val_every=0, **KW)
    ck = load_checkpoint(os.path.join(run, "ckpt.pt"))
    a = save_state(os.path.join(run, "ckpt.pt"), fp16, ema_only=True)
    b = save_state(os.path.join(run, "ckpt.pt"), q8, ema_only=True, ema_int8=True)
    assert a["ema_int8"] == 0 and b["ema_int8"] > 0
    assert b["bytes"] < 0.75 * a["bytes"]
    st = load_state(q8)
    assert set(st["ema"]) == set(ck["ema"])
    changed = 0
    for k, v in ck["ema"].items():
        if not v.is_floating_point():
            assert torch.equal(st["ema"][k], v)
            continue
        tol = v.abs().reshape(v.shape[0], -1).amax(1).max() / 254 + 1e-3 * v.abs().max() + 1e-6
        assert (st["ema"][k] - v).abs().max() <= tol, k
        changed += not torch.equal(st["ema"][k], v.half().float())
    assert changed == b["ema_int8"]              # exactly the int8 tensors differ from an fp16 copy
    out = str(tmp_path / "on-q8")
    r = train(shards, out, steps=5, resume=True, state_dir=q8, val_every=0, **KW)
    assert r["step"] == 5
    assert load_checkpoint(os.path.join(out, "ckpt.pt"))["segments"][-1]["resumed_from"] == "relay state (EMA only, int8)"
    # with the training weights' difference as well, the weights come back to fp16 precision, not int8's
    full = str(tmp_path / "q8-full")
    save_state(os.path.join(run, "ckpt.pt"), full, ema_int8=True)
    model = load_state(full)["model"]
    for k, v in ck["model"].items():
        if v.is_floating_point():
            assert (model[k] - v).abs().max() <= 2e-3 * v.abs().max() + 1e-5, k
    # a state written before int8 (format 1, no ema_int8) still loads
    old = torch_load(os.path.join(fp16, "state.pt"))
    old["format"] = "face0-relay-state-1"
    atomic_save(old, os.path.join(fp16, "state.pt"))
    meta = json.load(open(os.path.join(fp16, "state.json")))
    meta.update(format="face0-relay-state-1", sha256=sha256(os.path.join(fp16, "state.pt")))
    json.dump(meta, open(os.path.join(fp16, "state.json"), "w"))
    restored = load_state(fp16)["ema"]
    assert all(torch.equal(restored[k], v.half().float() if v.is_floating_point() else v) for k, v in ck["ema"].items())


def test_xz_state_is_smaller_and_resumes_exactly_like_the_plain_one(shards, tmp_path):
    """`save-state --xz`: the same state, lzma-compressed (lossless): fewer bytes, the same tensors, and
    saving the other way into the same folder leaves one state file, the one state.json names."""
    run, plain, packed = str(tmp_path / "run"), str(tmp_path / "plain"), str(tmp_path / "xz")
    train(shards, run, stage="joint", steps=3, val_every=0, **KW)
    a = save_state(os.path.join(run, "ckpt.pt"), plain, ema_only=True)
    b = save_state(os.path.join(run, "ckpt.pt"), packed, ema_only=True, xz=True)
    assert b["file"] == "state.pt.xz" and b["bytes"] < a["bytes"]
    sa, sb = load_state(plain), load_state(packed)
    assert all(torch.equal(sa["ema"][k], sb["ema"][k]) for k in sa["ema"])
    assert sa["rng"][0]["torch"].equal(sb["rng"][0]["torch"]) and sa["data"] == sb["data"]
    save_state(os.path.join(run, "ckpt.pt"), packed, ema_only=True)         # back to plain: the .xz goes
    assert sorted(os.listdir(packed)) == ["state.json", "state.pt"]
    save_state(os.path.join(run, "ckpt.pt"), packed, ema_only=True, xz=True)
    assert sorted(os.listdir(packed)) == ["state.json", "state.pt.xz"]
    with open(os.path.join(packed, "state.pt.xz"), "r+b") as f:            # damaged: refused by its sha256
        f.seek(100)
        f.write(b"\x00\x01\x02")
    with pytest.raises(ValueError, match="sha256"):
        load_state(packed)
    save_state(os.path.join(run, "ckpt.pt"), packed, ema_only=True, xz=True)
    out = str(tmp_path / "on-xz")
    assert train(shards, out, steps=5, resume=True, state_dir=packed, val_every=0, **KW)["step"] == 5
