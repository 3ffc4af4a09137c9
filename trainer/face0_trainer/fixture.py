"""`make-fixture`: a tiny bundle for the TypeScript tests, and torch reference values for it.

Trains the `tiny` config for a few steps (base, then face0) on synthetic shards, exports the
bundle to OUT and writes OUT-reference.json next to it. The reference values are computed in
torch (not ONNX), in float64, with the same EMA weights that were exported, from float32-exact
inputs, so the TypeScript side can check ONNX-vs-torch parity (< 1e-4) of every graph, the
tokenizer, the schedule, the Face0 splice, guidance and a full DDIM run.
"""
import copy
import json
import os
import shutil
import tempfile

import numpy as np
import torch

from .export import export
from .model import splice
from .schedule import Schedule, ddim_sample, ddim_timesteps
from .synth import write_shards
from .train import train, load_checkpoint, model_from_checkpoint

PROMPTS = ["a photo of a smiling woman with glasses",
           "",
           "A Photo of an OLD man, with a beard!",
           "a photo of a young person with blond hair and a very long caption that goes on and on past the limit"]
TIMESTEP = 437.25
DDIM_STEPS, TEXT_SCALE, FACE_SCALE = 10, 3.0, 2.0


def f32(a):
    """float32-exact values as a flat list of JSON floats ('%.9g' round-trips float32)."""
    return [float("%.9g" % v) for v in np.asarray(a, dtype=np.float32).reshape(-1)]


def f64(a):
    return [float("%.12g" % v) for v in np.asarray(a, dtype=np.float64).reshape(-1)]


def make_fixture(out, steps=30):
    out = os.path.abspath(out)
    ref_path = out.rstrip("/") + "-reference.json"
    work = tempfile.mkdtemp(prefix="face0-fixture-")
    try:
        data = write_shards(os.path.join(work, "data"), n_shards=3, per_shard=24, seed=7)
        base_dir, face_dir = os.path.join(work, "base"), os.path.join(work, "face0")
        train(data, base_dir, stage="base", steps=steps, config="tiny", ckpt_every=0, sample_every=0,
              log_every=10)
        train(data, face_dir, stage="face0", init=os.path.join(base_dir, "ckpt.pt"), steps=steps,
              config="tiny", ckpt_every=0, sample_every=0, log_every=10)
        ckpt = os.path.join(face_dir, "ckpt.pt")
        if os.path.exists(out):
            shutil.rmtree(out)
        export(ckpt, data, out, name="face0-tiny-fixture")
        ref = reference(load_checkpoint(ckpt))
        ref["bundle"] = os.path.basename(out)
        with open(os.path.join(out, "manifest.json")) as f:
            ref["manifest_files"] = json.load(f)["files"]
        with open(ref_path, "w") as f:
            json.dump(ref, f)
            f.write("\n")
        print(f"reference -> {ref_path} ({os.path.getsize(ref_path) / 1e6:.2f} MB)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


@torch.no_grad()
def reference(ck):
    model, cfg, tok = model_from_checkpoint(ck, ema=True)
    model = model.double().eval()
    m = cfg.model
    L, K, D = m.context_length, m.face_tokens, m.text_width
    sched = Schedule(cfg.train.timesteps)
    g = np.random.default_rng(12345)

    prompts = [{"text": p, "input_ids": tok.encode(p, L, K)} for p in PROMPTS]
    ids = torch.tensor([prompts[0]["input_ids"]])
    empty = torch.tensor([prompts[1]["input_ids"]])
    hidden = model.text_encoder(ids)

    e = g.standard_normal(m.embedding_dim)
    emb = np.asarray(f32(e / np.linalg.norm(e)), dtype=np.float64)
    emb_t = torch.tensor(emb)[None]
    face = model.face_projector(emb_t)

    ctx_text = hidden
    ctx_face = splice(hidden, face)
    ctx_empty = model.text_encoder(empty)
    sample = torch.tensor(np.asarray(f32(g.standard_normal((1, m.channels, m.resolution, m.resolution))),
                                     dtype=np.float64)).view(1, m.channels, m.resolution, m.resolution)
    ctx_in = torch.tensor(np.asarray(f32(ctx_face.numpy()), dtype=np.float64)).view(1, L, D)
    pred = model.unet(sample, torch.tensor([TIMESTEP], dtype=torch.float64), ctx_in)

    x_T = torch.tensor(np.asarray(f32(g.standard_normal((1, m.channels, m.resolution, m.resolution))),
                                  dtype=np.float64)).view(1, m.channels, m.resolution, m.resolution)
    x0 = ddim_sample(model.unet, x_T, ctx_empty, ctx_text, ctx_face, sched.alphas_cumprod, DDIM_STEPS,
                     TEXT_SCALE, FACE_SCALE)
    x1 = ddim_sample_first(model.unet, x_T, ctx_empty, ctx_text, ctx_face, sched.alphas_cumprod)
    x0_noface = ddim_sample(model.unet, x_T, ctx_empty, ctx_text, None, sched.alphas_cumprod, DDIM_STEPS,
                            TEXT_SCALE, 0.0)

    return {
        "format": "face0-reference-1",
        "note": "torch float64 with the exported EMA weights; inputs are float32-exact. Arrays are "
                "flattened row-major (C order). Check ONNX outputs within 1e-4 (absolute; relative to "
                "max(1, |ref|) for larger values).",
        "tolerance": 1e-4,
        "dims": {"context_length": L, "face_tokens": K, "width": D, "embedding_dim": m.embedding_dim,
                 "resolution": m.resolution, "channels": m.channels},
        "prompts": prompts,
        "text_hidden": {"prompt": PROMPTS[0], "input_ids": prompts[0]["input_ids"], "shape": [1, L, D],
                        "hidden": f64(hidden.numpy())},
        "face_tokens": {"embedding": f32(emb), "shape": [1, K, D], "tokens": f64(face.numpy())},
        "splice": {"note": "context = text_hidden with positions L-K..L-1 replaced by face_tokens",
                   "context": f64(ctx_face.numpy())},
        "unet": {"sample": f32(sample.numpy()), "sample_shape": list(sample.shape), "timestep": TIMESTEP,
                 "context": f32(ctx_in.numpy()), "context_shape": [1, L, D],
                 "prediction": f64(pred.numpy())},
        "schedule": {"type": "cosine", "num_train_timesteps": sched.T},
        "alphas_cumprod": f64(sched.alphas_cumprod),
        "ddim": {
            "steps": DDIM_STEPS, "eta": 0.0, "text_scale": TEXT_SCALE, "face_scale": FACE_SCALE,
            "spacing": "t_i = floor((T-1)*(n-1-i)/(n-1) + 0.5) for i = 0..n-1 (descending, both ends included)",
            "timesteps": ddim_timesteps(DDIM_STEPS, sched.T),
            "algorithm": "for i: a = alphas_cumprod[t_i]; a' = alphas_cumprod[t_{i+1}] or 1 after the last step; "
                         "v = v(empty,no face) + text_scale*(v(prompt,no face) - v(empty,no face)) + "
                         "face_scale*(v(prompt,face) - v(prompt,no face)); x0 = sqrt(a) x - sqrt(1-a) v; "
                         "eps = sqrt(1-a) x + sqrt(a) v; x = sqrt(a') x0 + sqrt(1-a') eps. No clipping. "
                         "Contexts: empty = text_encoder(ids of ''), prompt = text_encoder(ids of prompt), "
                         "face = prompt context with the last K positions replaced by face_projector(embedding).",
            "prompt": PROMPTS[0], "input_ids": prompts[0]["input_ids"], "empty_ids": prompts[1]["input_ids"],
            "embedding": f32(emb), "shape": list(x_T.shape),
            "x_T": f32(x_T.numpy()),
            "x_after_first_step": f64(x1.numpy()),
            "x_0": f64(x0.numpy()),
            "x_0_face_scale_0": f64(x0_noface.numpy()),
        },
    }


def ddim_sample_first(unet, x_T, cu, ct, cf, ac):
    """x after the first DDIM step of the same run (a debugging aid for the TypeScript sampler)."""
    ts = ddim_timesteps(DDIM_STEPS, len(ac))
    ac_short = np.array(ac, dtype=np.float64)
    from .schedule import guide, v_to_x0_eps
    B = x_T.shape[0]
    tt = torch.full((3 * B,), float(ts[0]), dtype=x_T.dtype)
    out = unet(torch.cat([x_T] * 3), tt, torch.cat([cu, ct, cf])).chunk(3)
    v = guide(out[0], out[1], out[2], TEXT_SCALE, FACE_SCALE)
    x0, eps = v_to_x0_eps(x_T, v, ac_short[ts[0]])
    a_prev = ac_short[ts[1]]
    return a_prev ** 0.5 * x0 + (1 - a_prev) ** 0.5 * eps
