"""A compact, single-file copy of an augmented dataset, for a machine that has no Node (the GPU machine).

The WebDataset shards of `face0 augment` are 94 MB for 14k samples: four tar members of 512-byte
headers per sample, JPEG q95 images and json sidecars with 40 attributes. The device machine receives
the working tree and at most 64 MiB in all, and the tree is ~46 MB, so its data must fit in ~18 MB.
The pack keeps what training and validation read, and nothing else:
- images re-encoded as WebP (quality 80 by default: ~1.0 KB a 64x64 crop, mean |error| ~3.4 grey
  levels against the q95 JPEG; JPEG needs ~2 KB for the same error),
- embeddings in fp16 (the projector's input is a unit vector; fp16 keeps 3 decimal digits),
- caption, source, identity, file and embedder of each sample; shard names and split (train/holdout),
- manifest.json, holdout.txt and identity_stats.json of the dataset (export reads them).
`unpack` writes shard-*.tar / holdout-*.tar folders that the trainer's reader opens like augment's
(image member `.webp` instead of `.jpg`, data.py accepts both), so the run on the GPU uses the same
data code, held-out split and validation as the CPU relay.

Format: an uncompressed tar with members pack.json (version, counts, per-sample records, gzip'd),
images.bin (the WebP files back to back), embeddings.npy ([N, E] float16) and the dataset files.
"""
import gzip
import io
import json
import os
import tarfile
import time

import numpy as np
from PIL import Image

from .data import add_member, iter_shard, list_holdout_shards, list_shards, read_holdout, read_image_bytes

PACK_FORMAT = "face0-pack-1"
META_KEEP = ("source", "file", "identity", "faces", "size", "embedder", "captions")
DATASET_FILES = ("manifest.json", "holdout.txt", "identity_stats.json")


def pack(data_dir, out_path, quality=80, log=print):
    """data_dir (augment's output) -> out_path (one file). Returns a summary dict."""
    if not 1 <= quality <= 100:
        raise ValueError(f"quality {quality}: expected 1..100")
    t0 = time.time()
    shards = [(p, "train") for p in list_shards(data_dir)] + [(p, "holdout") for p in list_holdout_shards(data_dir)]
    holdout = read_holdout(data_dir)
    records, images, embeddings = [], io.BytesIO(), []
    src_bytes = 0
    for path, split in shards:
        for s in iter_shard(path, holdout, validation=split == "holdout"):
            raw = read_image_bytes(s["jpg"])
            src_bytes += len(raw)
            buf = io.BytesIO()
            Image.open(io.BytesIO(raw)).convert("RGB").save(buf, "WEBP", quality=quality, method=6)
            start = images.tell()
            images.write(buf.getvalue())
            records.append({"key": s["key"], "shard": os.path.basename(path), "caption": s["caption"],
                            "meta": {k: s["meta"][k] for k in META_KEEP if k in s["meta"]},
                            "image": [start, images.tell() - start]})
            embeddings.append(s["embedding"])
        log(f"pack: {os.path.basename(path)} ({len(records)} samples so far)")
    if not records:
        raise ValueError(f"{data_dir}: no samples to pack")
    emb = np.stack(embeddings).astype(np.float16)
    index = {"format": PACK_FORMAT, "samples": len(records), "quality": quality,
             "embedding_dim": int(emb.shape[1]), "records": records}
    npy = io.BytesIO()
    np.save(npy, emb, allow_pickle=False)
    tmp = out_path + ".tmp"
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT) as tf:
        add_member(tf, "pack.json.gz", gzip.compress(json.dumps(index).encode("utf-8"), mtime=0))
        add_member(tf, "images.bin", images.getvalue())
        add_member(tf, "embeddings.npy", npy.getvalue())
        for name in DATASET_FILES:
            p = os.path.join(data_dir, name)
            if os.path.exists(p):
                with open(p, "rb") as f:
                    add_member(tf, name + ".gz", gzip.compress(f.read(), mtime=0))
    os.replace(tmp, out_path)
    info = {"samples": len(records), "bytes": os.path.getsize(out_path), "source_image_bytes": src_bytes,
            "image_bytes": images.tell(), "seconds": round(time.time() - t0, 1)}
    log(f"pack -> {out_path}: {info['samples']} samples, {info['bytes'] / 1e6:.2f} MB "
        f"(images {info['image_bytes'] / 1e6:.2f} MB WebP q{quality} from {src_bytes / 1e6:.2f} MB JPEG), "
        f"{info['seconds']} s")
    return info


def read_pack(path):
    with tarfile.open(path, "r:") as tf:
        members = {m.name: m for m in tf.getmembers()}
        if "pack.json.gz" not in members:
            raise ValueError(f"{path}: not a face0 pack (no pack.json.gz)")
        index = json.loads(gzip.decompress(tf.extractfile(members["pack.json.gz"]).read()))
        if index.get("format") != PACK_FORMAT:
            raise ValueError(f"{path}: format {index.get('format')!r}, this trainer reads {PACK_FORMAT!r}")
        images = tf.extractfile(members["images.bin"]).read()
        emb = np.load(io.BytesIO(tf.extractfile(members["embeddings.npy"]).read()), allow_pickle=False)
        files = {n: gzip.decompress(tf.extractfile(members[n + ".gz"]).read())
                 for n in DATASET_FILES if n + ".gz" in members}
    if emb.shape[0] != len(index["records"]) or len(index["records"]) != index["samples"]:
        raise ValueError(f"{path}: {len(index['records'])} records, {emb.shape[0]} embeddings: damaged pack")
    return index, images, emb, files


def unpack(pack_path, out_dir, log=print):
    """pack -> out_dir with shard-*.tar / holdout-*.tar (webp images, fp32 embeddings) + dataset files."""
    index, images, emb, files = read_pack(pack_path)
    os.makedirs(out_dir, exist_ok=True)
    by_shard = {}
    for i, r in enumerate(index["records"]):
        by_shard.setdefault(r["shard"], []).append(i)
    for shard, idx in by_shard.items():
        tmp = os.path.join(out_dir, shard + ".tmp")
        with tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT) as tf:
            for i in idx:
                r = index["records"][i]
                off, size = r["image"]
                npy = io.BytesIO()
                np.save(npy, emb[i].astype(np.float32), allow_pickle=False)
                add_member(tf, r["key"] + ".webp", images[off:off + size])
                add_member(tf, r["key"] + ".txt", r["caption"].encode("utf-8"))
                add_member(tf, r["key"] + ".npy", npy.getvalue())
                add_member(tf, r["key"] + ".json", json.dumps(r["meta"]).encode("utf-8"))
        os.replace(tmp, os.path.join(out_dir, shard))
    for name, data in files.items():
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(data)
    log(f"unpack -> {out_dir}: {index['samples']} samples in {len(by_shard)} shards")
    return {"samples": index["samples"], "shards": len(by_shard)}
