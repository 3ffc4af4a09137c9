"""Export a checkpoint's EMA weights as the model bundle of CONTRACTS.md section 4.

text_encoder.onnx, face_projector.onnx, unet.onnx (opset 17, dynamic axis 'batch'),
tokenizer.json and manifest.json (sha256 of every file, schedule betas, identity prior, provenance).
If onnxruntime is installed, each graph is checked against torch on random inputs; otherwise the
TypeScript tests check parity against the torch reference values of `make-fixture`.
"""
import datetime
import hashlib
import shutil
import subprocess
import inspect
import json
import os
import warnings

import numpy as np
import torch

from .config import to_dict
from .data import iter_embeddings, list_shards, iter_shard, read_holdout
from .flops import unet_flops
from .schedule import Schedule
from .train import model_from_checkpoint

FORMAT_VERSION = 1
OPSET = 17
LICENSE = "non-commercial research only (trained on CelebA and UTKFace)"
# guidance a bundle ships with: face 4, text 6 beat face 2, text 3 on the same weights in full
# `face0 eval` runs (FaceRes G 0.304 vs 0.271, top-1 0.375 vs 0.225, fidelity 0.28 vs 0.25; RECIPES.md)
DEFAULTS = {"steps": 20, "sampler": "dpmpp_2m", "text_scale": 6.0, "face_scale": 4.0}
# the largest `defaults.face_start` a bundle may carry (src/diffusion/guidance.ts MAX_FACE_START)
MAX_FACE_START = 0.99


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def onnx_export(module, args, path, input_names, output_names):
    kw = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kw["dynamo"] = False          # torch >= 2.5: keep the TorchScript exporter (static shapes, opset 17)
    dyn = {n: {0: "batch"} for n in input_names + output_names}
    try:
        with warnings.catch_warnings():
            # harmless on these graphs: GroupNorm's batch-size check, and shape inference of constants
            warnings.filterwarnings("ignore", message=".*Converting a tensor to a Python boolean.*")
            warnings.filterwarnings("ignore", message=".*shape inference of prim::Constant.*")
            torch.onnx.export(module, args, path, opset_version=OPSET, input_names=input_names,
                              output_names=output_names, dynamic_axes=dyn, do_constant_folding=True, **kw)
    except Exception as e:
        raise RuntimeError(f"ONNX export of {os.path.basename(path)} failed: {e}") from e
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        raise RuntimeError(f"ONNX export of {os.path.basename(path)} wrote nothing")


REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
NODE_RUNNER = os.path.join(REPO, "scripts", "onnx-run.mjs")


def run_onnx(path, feeds):
    """First output of the graph on `feeds`: Python onnxruntime if installed, else the repo's
    onnxruntime-node through scripts/onnx-run.mjs. None when neither is available."""
    try:
        import onnxruntime as ort
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        return sess.run(None, {k: v.numpy() for k, v in feeds.items()})[0]
    except ImportError:
        pass
    node = shutil.which("node")
    if not node or not os.path.isdir(os.path.join(REPO, "node_modules", "onnxruntime-node")):
        return None
    req = {"model": os.path.abspath(path), "feeds": {
        k: {"dtype": "int64" if v.dtype == torch.int64 else "float32", "dims": list(v.shape),
            "data": v.reshape(-1).tolist()} for k, v in feeds.items()}}
    r = subprocess.run([node, NODE_RUNNER], input=json.dumps(req), capture_output=True, text=True, cwd=REPO)
    if r.returncode != 0:
        raise RuntimeError(f"{os.path.basename(path)}: onnxruntime-node failed: {r.stderr.strip()[-2000:]}")
    out = json.loads(r.stdout)
    return np.asarray(out["data"], dtype=np.float32).reshape(out["dims"])


def ort_parity(path, module, feeds, tol=1e-4):
    """Max |onnxruntime - torch| on the given inputs (float32); raises above tol. None if no
    onnxruntime is reachable (then export says so loudly)."""
    got = run_onnx(path, feeds)
    if got is None:
        return None
    with torch.no_grad():
        ref = module(*feeds.values()).numpy()
    err = float(np.abs(got - ref).max())
    if err > tol * max(1.0, float(np.abs(ref).max())):
        raise RuntimeError(f"{os.path.basename(path)}: onnxruntime differs from torch by {err}")
    return err


def identity_prior(data_dir):
    p = os.path.join(data_dir, "identity_stats.json")
    if os.path.exists(p):
        with open(p) as f:
            s = json.load(f)
        return {k: s[k] for k in ("count", "mean", "cholesky", "directions")}, s.get("embedder")
    print(f"warning: {p} not found: computing mean and Cholesky factor from the shard embeddings "
          f"(no attribute directions)", flush=True)
    E = np.stack(list(iter_embeddings(data_dir))).astype(np.float64)
    cov = np.cov(E, rowvar=False) + 1e-6 * np.eye(E.shape[1])
    return {"count": int(E.shape[0]), "mean": E.mean(0).tolist(),
            "cholesky": np.linalg.cholesky(cov).tolist(), "directions": {}}, None


def first_embedder(data_dir):
    holdout = read_holdout(data_dir)
    for s in list_shards(data_dir):
        for r in iter_shard(s, holdout):
            return r["meta"].get("embedder")
    return None


def data_summary(data_dir):
    n = len(list_shards(data_dir))
    parts = [f"{n} shards in {os.path.basename(os.path.abspath(data_dir))}"]
    p = os.path.join(data_dir, "manifest.json")
    if os.path.exists(p):
        with open(p) as f:
            man = json.load(f)
        if isinstance(man, dict):
            flat = {k: v for k, v in man.items() if isinstance(v, (str, int, float, bool))}
            for sub in ("counts", "settings"):
                if isinstance(man.get(sub), dict):
                    flat.update({k: v for k, v in man[sub].items() if isinstance(v, (str, int, float, bool))})
            srcs = (man.get("settings") or {}).get("sources") if isinstance(man.get("settings"), dict) else None
            if isinstance(srcs, list):
                flat["sources"] = ",".join(str(x.get("name", x)) if isinstance(x, dict) else str(x) for x in srcs)
            parts += [f"{k}={v}" for k, v in flat.items()][:24]
    return "; ".join(parts)


def example_graphs(model):
    """(name, module, example feeds, output names) of the bundle's three graphs, with fixed feeds (seed 0);
    bundle_weights.py exports the same graphs to find where each of a bundle's initializers came from."""
    m = model.cfg
    gen = torch.Generator().manual_seed(0)
    B = 2
    ids = torch.randint(0, m.vocab_size, (B, m.context_length), generator=gen)
    emb = torch.nn.functional.normalize(torch.randn(B, m.embedding_dim, generator=gen), dim=-1)
    x = torch.randn(B, m.channels, m.resolution, m.resolution, generator=gen)
    t = torch.tensor([10.0, 731.5])
    ctx = torch.randn(B, m.context_length, m.text_width, generator=gen)
    return [("text_encoder", model.text_encoder, {"input_ids": ids}, ["hidden"]),
            ("face_projector", model.face_projector, {"embedding": emb}, ["tokens"]),
            ("unet", model.unet, {"sample": x, "timestep": t, "context": ctx}, ["prediction"])]


def export(ckpt_path, data_dir, out, name=None, face_start=None, face_start_random=None, guidance_rescale=None):
    """face_start, face_start_random: the bundle's `defaults.face_start` and `defaults.face_start_random`
    (random identities); guidance_rescale: `defaults.guidance_rescale` (docs/GENERATE.md); each written
    only when given."""
    extra = {k: v for k, v in (("face_start", face_start), ("face_start_random", face_start_random)) if v is not None}
    for k, v in extra.items():
        if not 0 <= v <= MAX_FACE_START:
            raise ValueError(f"{k.replace('_', ' ')} must be in [0, {MAX_FACE_START}], got {v}")
    if guidance_rescale is not None:
        if not 0 <= guidance_rescale <= 1:
            raise ValueError(f"guidance rescale must be in [0, 1], got {guidance_rescale}")
        extra["guidance_rescale"] = guidance_rescale
    from .relay import load_checkpoint_or_state       # relay imports this module
    ck = load_checkpoint_or_state(ckpt_path)
    model, cfg, tok = model_from_checkpoint(ck, ema=True)
    model.eval()
    m = cfg.model
    os.makedirs(out, exist_ok=True)
    files, parity = {}, {}
    for gname, mod, feeds, outs in example_graphs(model):
        path = os.path.join(out, f"{gname}.onnx")
        onnx_export(mod, tuple(feeds.values()), path, list(feeds), outs)
        err = ort_parity(path, mod, feeds)
        parity[gname] = err
        print(f"{gname}.onnx: {os.path.getsize(path) / 1e6:.2f} MB"
              + (f", onnxruntime parity max |diff| {err:.2e}" if err is not None
                 else " — WARNING: parity NOT checked (no onnxruntime for Python, no node + onnxruntime-node)"),
              flush=True)
        files[gname] = {"path": f"{gname}.onnx", "sha256": sha256(path)}
    tok.save(os.path.join(out, "tokenizer.json"))
    files["tokenizer"] = {"path": "tokenizer.json", "sha256": sha256(os.path.join(out, "tokenizer.json"))}

    sched = Schedule(cfg.train.timesteps)
    identity, stats_embedder = identity_prior(data_dir)
    embedder = stats_embedder or first_embedder(data_dir)
    u = unet_flops(m)
    manifest = {
        "format_version": FORMAT_VERSION,
        "name": name or f"face0-{cfg.name}",
        "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "license": LICENSE,
        "files": files,
        "image": {"resolution": m.resolution, "channels": m.channels, "pixel_range": [-1, 1],
                  "layout": "NCHW RGB"},
        "text": {"context_length": m.context_length, "width": m.text_width, "face_tokens": m.face_tokens},
        "face": {"embedding_dim": m.embedding_dim, "embedder": embedder},
        "schedule": {"type": "cosine", "num_train_timesteps": sched.T, "betas": sched.betas.tolist()},
        "prediction_type": "v",
        "unet_info": {"params": u["params"], "gflops_per_eval": round(u["total"] / 1e9, 4)},
        "identity": identity,
        "training": {"stages": ck["provenance"], "data": data_summary(data_dir), "config": to_dict(cfg),
                     "onnx_parity_max_abs_diff": parity},
        "defaults": {**DEFAULTS, **extra},
    }
    tmp = os.path.join(out, "manifest.json.tmp")
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    os.replace(tmp, os.path.join(out, "manifest.json"))
    print(f"bundle -> {out} ({manifest['name']}, {u['params'] / 1e6:.2f} M UNet params, "
          f"{manifest['unet_info']['gflops_per_eval']} GFLOP/eval)", flush=True)
    return manifest
