"""The relay's compact training state: what a later sitting, maybe on a fresh machine, resumes from.

A full checkpoint (ckpt.pt) holds the weights, the EMA and AdamW's two moments in fp32: four copies
of the parameters (80 MB for the 5 M-parameter cpu config), too much to commit every sitting. The
compact state keeps what the run cannot rebuild cheaply:
- the EMA weights in fp16 and the training weights as an fp16 difference from the EMA (the
  difference is small, so its fp16 rounding is far below one optimiser step);
- step, images and seconds seen, the data position, every RNG state, config, tokenizer, provenance.
AdamW's moments are dropped: the resumed run starts them at zero and warms the learning rate up
again over `warmup` steps (trainer/RECIPES.md measures what that costs against an exact resume).
With `ema_only`, the difference is dropped too (half the bytes): the resumed run's training weights
restart at the EMA. With `ema_int8`, the EMA's weight matrices are stored as int8 with one scale per
output channel (torch's own quantised tensors, which torch.save keeps), vectors and small tensors in
fp16: half the bytes again, at a cost RECIPES.md measures (sitting 17: +2 % held-out v-loss at the
resume point, so the relay keeps fp16). With `xz`, the file is state.pt.xz (lzma, lossless: ~11 %
fewer bytes of fp16 weights). The relay's history is bounded (400 MB, issue 10); RECIPES.md measures
what each of these costs (sittings 14 and 17).
With `bundle` (format 3, since sitting 22), the state holds no weights at all: it names the shipped bundle
whose ONNX graphs hold its EMA (bundle_weights.py reads them back, bit for bit), so a sitting that ships a
bundle commits a relay state of a few kilobytes; the history's bound was reached at sitting 20.
A state.json beside it names the format, the state file and its sha256; resume refuses a mismatch.
"""
import datetime
import io
import json
import lzma
import os
import re

import torch

from .export import REPO, sha256
from .train import CKPT_FORMAT, atomic_save, load_checkpoint, torch_load

STATE_FORMAT = "face0-relay-state-2"      # 2: the EMA may be split into ema_int8 + ema_fp16
BUNDLE_FORMAT = "face0-relay-state-3"     # 3: no weights; they are the named bundle's (bundle_weights.py)
READS = ("face0-relay-state-1", STATE_FORMAT, BUNDLE_FORMAT)
KEEP = ("config", "tokenizer", "stage", "step", "rng", "data", "seconds", "images",
        "sample_embeddings", "history", "provenance")
INT8_MIN_NUMEL = 1024                     # smaller tensors (biases, norms, scales) stay fp16: they are few bytes


def quantize_int8(t):
    """A float tensor -> torch.qint8, symmetric, one scale per output channel (dim 0): its error is at most
    half a step of absmax / 127 of that channel."""
    w = t.detach().float()
    scale = (w.reshape(w.shape[0], -1).abs().amax(1) / 127).clamp_min(1e-12).double()
    return torch.quantize_per_channel(w, scale, torch.zeros(w.shape[0], dtype=torch.long), 0, torch.qint8)


def _int8_worthy(v):
    return v.is_floating_point() and v.dim() >= 2 and v.numel() >= INT8_MIN_NUMEL


def _repo_relative(path):
    """A bundle path as the state stores it: relative to the repository root when inside it (the state is
    committed and read on other machines), else absolute."""
    path = os.path.abspath(path)
    rel = os.path.relpath(path, REPO)
    return path if rel.startswith("..") else rel


def _bundle_ref(bundle_dir):
    """(what a state records of a bundle: its path and its graphs' sha256 from the manifest, the manifest).
    The files themselves are hashed once, where their weights are read back (_bundle_weights)."""
    from .bundle_weights import GRAPHS, read_manifest
    manifest = read_manifest(bundle_dir)
    ref = {"path": _repo_relative(bundle_dir), "sha256": {g: manifest["files"][g]["sha256"] for g in GRAPHS}}
    return ref, manifest


def _bundle_weights(ref, where):
    """The EMA of a bundle-backed state: the named bundle's weights, refused if it is not the same bundle."""
    from .bundle_weights import read_manifest, state_dict_from_bundle
    path = ref["path"] if os.path.isabs(ref["path"]) else os.path.join(REPO, ref["path"])
    if not os.path.exists(os.path.join(path, "manifest.json")):
        raise FileNotFoundError(f"{where}: its weights are the bundle {ref['path']}, which is not there")
    files = read_manifest(path)["files"]
    for g, digest in ref["sha256"].items():
        if files[g]["sha256"] != digest:
            raise ValueError(f"{where}: its weights are the bundle {ref['path']} with {g} sha256 {digest[:12]}, "
                             f"but that bundle's is now {files[g]['sha256'][:12]}: the bundle was replaced without "
                             "writing its relay state (`save-state --bundle`), or the state is from another bundle")
    return state_dict_from_bundle(path)


def _write_state(state, out_dir, xz, info_extra):
    os.makedirs(out_dir, exist_ok=True)
    name, other = ("state.pt.xz", "state.pt") if xz else ("state.pt", "state.pt.xz")
    path = os.path.join(out_dir, name)
    if xz:
        buf = io.BytesIO()
        torch.save(state, buf)
        with open(path + ".tmp", "wb") as f:
            f.write(lzma.compress(buf.getvalue(), preset=9))
        os.replace(path + ".tmp", path)
    else:
        atomic_save(state, path)
    info = {"format": state["format"], "file": name, "sha256": sha256(path), "bytes": os.path.getsize(path),
            "step": state["step"], "images": state["images"], "seconds": round(state["seconds"], 1),
            "config": state["config"]["name"], "stage": state["stage"], "stages": state["provenance"],
            "segments": state.get("segments", []), **info_extra}
    tmp = os.path.join(out_dir, "state.json.tmp")
    with open(tmp, "w") as f:
        json.dump(info, f, indent=1)
        f.write("\n")
    os.replace(tmp, os.path.join(out_dir, "state.json"))
    # only now that state.json names the new file: a crash before this leaves the old pair readable
    if os.path.exists(os.path.join(out_dir, other)):
        os.remove(os.path.join(out_dir, other))
    return info


def save_state(ckpt_path, out_dir, reset_cooldown=False, ema_only=False, ema_int8=False, xz=False, bundle=None):
    """ckpt.pt -> out_dir/state.pt + state.json. Returns the state.json dict.
    reset_cooldown: the state goes on at the constant learning rate (cooldown_from and cooldown_steps
    0 in its config). An A/B arm that ends in a cooldown is saved from its last uncooled checkpoint,
    which still carries the arm's cooldown settings: the relay resumed from it would cool again.
    ema_only: no training weights (model - EMA); a resume starts them at the EMA.
    ema_int8: the EMA's weight matrices in int8 (quantize_int8), the rest in fp16.
    xz: write state.pt.xz (lzma) instead of state.pt; the other one, if the folder held it, is removed.
    bundle: a bundle folder exported from this checkpoint: the state keeps no weights and names the bundle
    (its EMA must be the bundle's weights exactly; a resume restarts the training weights at the EMA).
    ckpt_path may also be a state folder: a bundle-backed state written out with its weights (the GPU machine
    reads that; its torch may name ONNX initializers differently)."""
    ck = load_checkpoint_or_state(ckpt_path)
    if reset_cooldown:
        tc = ck["config"]["train"]
        tc["cooldown_from"], tc["cooldown_steps"] = 0, 0
    extra = {k: ck[k] for k in ("segments",) if k in ck}
    if bundle is not None:
        ref, _ = _bundle_ref(bundle)
        weights = _bundle_weights(ref, bundle)
        differ = [k for k, v in ck["ema"].items() if not torch.equal(v.float(), weights[k])]
        if differ:
            raise ValueError(f"{bundle}: its weights are not this checkpoint's EMA ({differ[0]}, ... differ): "
                             f"export {ckpt_path} to it first")
        state = {"format": BUNDLE_FORMAT, "bundle": ref, **{k: ck[k] for k in KEEP}, **extra}
        return _write_state(state, out_dir, xz, {"bundle": ref["path"], "ema_only": True, "ema_int8": 0})
    q8 = {k for k, v in ck["ema"].items() if ema_int8 and _int8_worthy(v)}
    ema = {k: v.half() if v.is_floating_point() else v for k, v in ck["ema"].items() if k not in q8}
    ema8 = {k: quantize_int8(ck["ema"][k]) for k in q8}
    delta = None
    if not ema_only:
        # the difference from the EMA as it will be restored (dequantised where int8), so that EMA + difference
        # gives back the training weights to fp16 precision either way
        restored = {k: ema8[k].dequantize() if k in q8 else v.float() for k, v in ck["ema"].items()
                    if v.is_floating_point()}
        delta = {k: (v.float() - restored[k]).half() if v.is_floating_point() else v for k, v in ck["model"].items()}
    state = {"format": STATE_FORMAT, "ema_fp16": ema, **({"ema_int8": ema8} if ema8 else {}),
             **({} if delta is None else {"model_minus_ema_fp16": delta}),
             **{k: ck[k] for k in KEEP}, **extra}
    return _write_state(state, out_dir, xz, {"ema_only": bool(ema_only), "ema_int8": len(ema8)})


def state_from_bundle(base_dir, bundle_dir, out_dir, machine=None, xz=True):
    """A bundle-backed state for a bundle whose own checkpoint was not kept (sitting 22: the shipped bundle
    was cooled on a machine that is gone, from the committed state 87,680). Step, images, seconds and config
    come from the bundle's manifest (the config with its cooldown cleared: the relay goes on at the constant
    lr); the data position, RNG states and sample embeddings from the base state it was trained from (so the
    data order repeats the base state's from there: at ~14 epochs an hour that only shifts which batches
    meet). The segment between the two is recorded from the manifest."""
    base = load_state(base_dir)
    ref, manifest = _bundle_ref(bundle_dir)
    training = manifest["training"]
    last = training["stages"][-1]
    if last["steps"] <= base["step"]:
        raise ValueError(f"{bundle_dir}: trained to step {last['steps']}, not past the base state's {base['step']}")
    cfg = training["config"]
    base_cfg = json.loads(json.dumps(base["config"]))    # tuples as the manifest's JSON lists
    if cfg["model"] != base_cfg["model"]:
        raise ValueError(f"{bundle_dir}: another model config than the base state {base_dir}")
    with open(os.path.join(bundle_dir, manifest["files"]["tokenizer"]["path"]), encoding="utf-8") as f:
        tok = json.load(f)
    if json.loads(json.dumps(base["tokenizer"])) != tok:
        raise ValueError(f"{bundle_dir}: another tokenizer than the base state {base_dir}")
    changed = [f"train.{k}={v}" for k, v in cfg["train"].items() if base_cfg["train"].get(k) != v]
    cfg = json.loads(json.dumps(cfg))
    cfg["train"]["cooldown_from"], cfg["train"]["cooldown_steps"] = 0, 0
    seconds = round(last["seconds"] - base["seconds"], 1)
    # the manifest says when the bundle was exported, not when the segment started: estimated as that less its
    # seconds; the ranks from its device ("cpu x2")
    created = datetime.datetime.strptime(manifest["created"], "%Y-%m-%dT%H:%M:%SZ")
    started = (created - datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    ranks = re.search(r"x(\d+)", last.get("device", ""))
    segment = {"started": started, "started_estimated": True, "from_step": base["step"], "from_images": base["images"],
               "ranks": int(ranks.group(1)) if ranks else None, "to_step": last["steps"], "to_images": last["images"],
               "seconds": seconds, "machine": machine or "not recorded", "resumed_from": "relay state",
               "changed": changed, "recorded_from": f"bundle manifest {ref['path']} (its checkpoint was not kept)"}
    state = {"format": BUNDLE_FORMAT, "bundle": ref, **{k: base[k] for k in KEEP},
             "config": cfg, "step": last["steps"], "images": last["images"], "seconds": last["seconds"],
             "history": base["history"], "provenance": training["stages"],
             "segments": list(base.get("segments", [])) + [segment]}
    _bundle_weights(ref, bundle_dir)          # read back and verified now, not first at the next resume
    return _write_state(state, out_dir, xz, {"bundle": ref["path"], "ema_only": True, "ema_int8": 0})


def load_state(state_dir):
    """state_dir/state.pt (or state.pt.xz), checked against state.json -> a checkpoint dict for train()'s resume,
    without optimizer/scheduler (marked 'compact')."""
    meta_path = os.path.join(state_dir, "state.json")
    if not os.path.exists(meta_path):
        raise FileNotFoundError(f"{state_dir}: no state.json (not a relay state folder)")
    with open(meta_path, encoding="utf-8") as f:
        info = json.load(f)
    if info.get("format") not in READS:
        raise ValueError(f"{meta_path}: format {info.get('format')!r}, this trainer reads {' or '.join(READS)}")
    path = os.path.join(state_dir, info.get("file", "state.pt"))
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: missing (state.json names it)")
    digest = sha256(path)
    if digest != info.get("sha256"):
        raise ValueError(f"{path}: sha256 {digest} does not match state.json ({info.get('sha256')}): "
                         "the file is damaged, a Git LFS pointer, or from another run")
    if path.endswith(".xz"):
        with lzma.open(path) as f:
            st = torch_load(io.BytesIO(f.read()))
    else:
        st = torch_load(path)
    if st.get("format") not in READS:
        raise ValueError(f"{path}: not a relay state file ({' or '.join(READS)})")
    if "bundle" in st:
        ema = _bundle_weights(st["bundle"], path)
    else:
        ema = {k: v.float() if v.is_floating_point() else v for k, v in st["ema_fp16"].items()}
        ema.update({k: v.dequantize() for k, v in st.get("ema_int8", {}).items()})
    delta = st.get("model_minus_ema_fp16")
    if delta is None:                   # an EMA-only state: the training weights restart at the EMA
        model = {k: v.clone() for k, v in ema.items()}
    else:
        model = {k: (ema[k] + v.float()) if v.is_floating_point() else v for k, v in delta.items()}
    ck = {k: v for k, v in st.items() if k not in ("ema_fp16", "ema_int8", "model_minus_ema_fp16", "bundle")}
    ck.update(format=CKPT_FORMAT, model=model, ema=ema, compact=True, ema_only=delta is None,
              ema_int8=bool(st.get("ema_int8")), from_bundle=st.get("bundle", {}).get("path"))
    return ck


def load_checkpoint_or_state(path):
    """A full checkpoint file, or a relay state folder (the GPU machine sends its run back as one)."""
    if os.path.isdir(path):
        return load_state(path)
    return load_checkpoint(path)
