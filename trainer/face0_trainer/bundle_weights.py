"""A bundle's ONNX weights read back into the model's state dict, so the relay can resume from the shipped bundle.

Why: the relay's committed history is bounded (issue 10: 400 MB for `relay/`) and has been full since
sitting 20. The shipped bundle already holds the EMA weights in fp32 (they are what `export` writes), so a
relay state that names the bundle instead of carrying the weights costs kilobytes a sitting
(relay.py, `save-state --bundle`).

torch's exporter names most initializers after the parameters they hold, but constant folding makes some
anonymous (`onnx::MatMul_414`: a bias-free Linear's weight, stored transposed; `onnx::Mul_1786`: a
GroupNorm's affine weight, reshaped). Their origin is found by exporting the same network with distinct
random weights (a template) and matching values. The weights read back are then exported again and every
initializer must equal the bundle's bit for bit: a bundle from an exporter that names or folds differently
(another torch version) is refused with a clear message instead of being loaded wrong.
"""
import hashlib
import json
import os
import tempfile

import numpy as np
import torch

GRAPHS = ("text_encoder", "face_projector", "unet")


def read_initializers(path):
    """name -> numpy array of every initializer of an ONNX file."""
    import onnx                       # Debian's python3-onnx (scripts/setup.sh); only this module needs it
    from onnx import numpy_helper
    model = onnx.load(path)
    return {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}


def _digest(a):
    a = np.ascontiguousarray(a, dtype=np.float32)
    return hashlib.sha1(a.tobytes()).hexdigest()


def _export_graphs(model, out_dir):
    from .export import example_graphs, onnx_export
    paths = {}
    for gname, mod, feeds, outs in example_graphs(model):
        path = os.path.join(out_dir, f"{gname}.onnx")
        onnx_export(mod, tuple(feeds.values()), path, list(feeds), outs)
        paths[gname] = path
    return paths


def origin_map(model_cfg):
    """initializer name -> (graph, state-dict key, 'flat' | 'T') for every graph, from a template export
    whose parameters are distinct random values. 'flat': the parameter's values in order (itself or
    reshaped); 'T': a 2-D parameter transposed."""
    from .model import Face0Model
    template = Face0Model(model_cfg).eval()
    gen = torch.Generator().manual_seed(12345)
    by_digest = {}
    with torch.no_grad():
        for key, p in template.state_dict(keep_vars=True).items():
            p.copy_(torch.randn(p.shape, generator=gen))
            by_digest[_digest(p.detach().numpy())] = (key, "flat")
            if p.dim() == 2:
                by_digest[_digest(p.detach().t().numpy())] = (key, "T")
    with tempfile.TemporaryDirectory() as tmp:
        paths = _export_graphs(template, tmp)
        origin, unmatched = {}, []
        for gname in GRAPHS:
            for name, arr in read_initializers(paths[gname]).items():
                hit = by_digest.get(_digest(arr)) if arr.dtype == np.float32 else None
                if hit is None:
                    unmatched.append((gname, name))   # a constant of the graph itself (checked by the re-export)
                else:
                    origin[(gname, name)] = hit
    return origin, unmatched


def read_manifest(bundle_dir):
    path = os.path.join(bundle_dir, "manifest.json")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{bundle_dir}: no manifest.json (not a model bundle)")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def bundle_files(bundle_dir):
    """The bundle's manifest, with each ONNX file's sha256 checked against it."""
    from .export import sha256
    manifest = read_manifest(bundle_dir)
    for gname in GRAPHS:
        entry = manifest["files"][gname]
        p = os.path.join(bundle_dir, entry["path"])
        if not os.path.exists(p):
            raise FileNotFoundError(f"{p}: missing (the bundle's manifest names it)")
        if sha256(p) != entry["sha256"]:
            raise ValueError(f"{p}: sha256 does not match the bundle's manifest (damaged, or a Git LFS pointer)")
    return manifest


def state_dict_from_bundle(bundle_dir):
    """The model's state dict (fp32) from a bundle's three ONNX graphs, verified by exporting it again:
    every initializer must come back bit for bit. The model's config is the one the manifest records."""
    from .config import from_dict
    from .model import Face0Model
    manifest = bundle_files(bundle_dir)
    model_cfg = from_dict(manifest["training"]["config"]).model
    origin, _ = origin_map(model_cfg)
    model = Face0Model(model_cfg).eval()
    sd = model.state_dict()
    loaded = set()
    inits = {g: read_initializers(os.path.join(bundle_dir, manifest["files"][g]["path"])) for g in GRAPHS}
    for (gname, name), (key, kind) in origin.items():
        if name not in inits[gname]:
            raise ValueError(f"{bundle_dir}: {gname}.onnx has no initializer {name!r}: it was exported with "
                             "another exporter's naming (another torch version?) than this one can read back")
        a = torch.from_numpy(inits[gname][name].copy())
        a = a.t() if kind == "T" else a.reshape(sd[key].shape)
        if a.shape != sd[key].shape:
            raise ValueError(f"{bundle_dir}: {gname}.onnx {name} has shape {tuple(a.shape)}, the model's {key} "
                             f"{tuple(sd[key].shape)}: the bundle is from another model config")
        sd[key] = a.contiguous().float()
        loaded.add(key)
    missing = [k for k in sd if k not in loaded]
    if missing:
        raise ValueError(f"{bundle_dir}: no initializer found for {len(missing)} parameters ({missing[0]}, ...)")
    model.load_state_dict(sd)
    with tempfile.TemporaryDirectory() as tmp:
        paths = _export_graphs(model, tmp)
        for gname in GRAPHS:
            again = read_initializers(paths[gname])
            if set(again) != set(inits[gname]):
                raise ValueError(f"{bundle_dir}: {gname}.onnx's initializers are named differently from this "
                                 "exporter's (another torch version?): its weights cannot be read back")
            for name, arr in again.items():
                if not np.array_equal(arr, inits[gname][name]):
                    raise ValueError(f"{bundle_dir}: {gname}.onnx {name} differs after the weights were read back "
                                     "and exported again: the bundle does not match this model code")
    return {k: v.clone() for k, v in model.state_dict().items()}
