"""Streaming reader of the augmented dataset's WebDataset shards (CONTRACTS.md section 1).

Sample order. For each epoch the shard list is shuffled with (seed, epoch); DDP rank r takes
shards[r::world_size]; the rank's samples pass through a shuffle buffer seeded by
(seed, epoch, rank) and are cut into batches (the last partial batch of an epoch is dropped).
That batch stream is a deterministic function of (seed, epoch, rank) and does not depend on the
number of DataLoader workers: each worker walks the rank's whole stream reading only the small
members (json/txt/npy) and decodes the images of every num_workers-th batch, so the DataLoader's
in-order round robin returns the batches in stream order. Resuming at (epoch, batch) skips the
consumed batches without decoding anything. Every batch carries its position (epoch, batch), the
training loop records the last one it used.

Held-out identities (holdout.txt) are skipped by reading the sample's json first: the image of a
held-out sample is never read.
"""
import io
import json
import os
import re
import tarfile
from collections import OrderedDict

import numpy as np
import torch
from PIL import Image

_KEY_RE = re.compile(r"^((?:.*/|)[^./]+)\.([^/]*)$")   # WebDataset: key = path up to the first dot of the basename


def list_shards(data_dir):
    shards = sorted(f for f in os.listdir(data_dir) if re.fullmatch(r"shard-\d+\.tar", f))
    if not shards:
        raise FileNotFoundError(f"no shard-*.tar in {data_dir}")
    return [os.path.join(data_dir, f) for f in shards]


def list_holdout_shards(data_dir):
    """The held-out people's shards (holdout-*.tar, written by `face0 augment`): validation only."""
    return sorted(os.path.join(data_dir, f) for f in os.listdir(data_dir) if re.fullmatch(r"holdout-\d+\.tar", f))


def read_holdout(data_dir):
    p = os.path.join(data_dir, "holdout.txt")
    if not os.path.exists(p):
        return set()
    with open(p, encoding="utf-8") as f:
        return {line.strip() for line in f if line.strip() and not line.startswith("#")}


def person_of(meta):
    """"source:identity" of a sample, or None where the source names no person (UTKFace: one photo each)."""
    ident = meta.get("identity")
    return None if ident is None else f"{meta.get('source')}:{ident}"


def is_held_out(meta, holdout):
    person = person_of(meta)
    return person is not None and person in holdout


def decode_npy(b):
    return np.load(io.BytesIO(b), allow_pickle=False).astype(np.float32).reshape(-1)


def iter_shard(path, holdout, stats=None, validation=False):
    """Yields dicts {key, meta, caption, embedding, jpg: (path, offset, size) of the image} for one shard,
    held-out samples skipped before any of their members other than the json is read.
    A held-out people's shard (holdout-*.tar) opens only for validation=True: training never reads it."""
    if os.path.basename(path).startswith("holdout-") and not validation:
        raise ValueError(f"{path}: a held-out people's shard; the training reader does not open it")
    with tarfile.open(path, "r:") as tf:
        groups = OrderedDict()
        for m in tf.getmembers():
            if not m.isfile():
                continue
            mk = _KEY_RE.match(m.name)
            if not mk:
                continue
            groups.setdefault(mk.group(1), {})[mk.group(2)] = m
        for key, mem in groups.items():
            img = mem.get("jpg") or mem.get("webp")      # webp: a pack unpacked on the GPU machine (pack.py)
            if img is None or not all(e in mem for e in ("txt", "npy", "json")):
                if stats is not None:
                    stats["incomplete"] = stats.get("incomplete", 0) + 1
                continue
            meta = json.loads(tf.extractfile(mem["json"]).read().decode("utf-8"))
            if not validation and is_held_out(meta, holdout):
                if stats is not None:
                    stats["held_out"] = stats.get("held_out", 0) + 1
                continue
            yield {"key": key, "meta": meta,
                   "caption": tf.extractfile(mem["txt"]).read().decode("utf-8").strip(),
                   "embedding": decode_npy(tf.extractfile(mem["npy"]).read()),
                   "jpg": (path, img.offset_data, img.size)}


def iter_captions(data_dir):
    """Captions of all training samples (held-out skipped), their variants included, for building the
    tokenizer."""
    holdout = read_holdout(data_dir)
    for s in list_shards(data_dir):
        for r in iter_shard(s, holdout):
            yield from r["meta"].get("captions") or [r["caption"]]    # the list starts with KEY.txt


def caption_choices(sample, variants):
    """The captions a sample is trained with: its KEY.txt, or with `variants` on the alternatives augment
    wrote into its meta (`captions`, KEY.txt first; docs/CONTRACTS.md). A fixed caption per image is
    learnt with the image; drawn afresh each time the image comes round, every attribute is named
    alone and in many combinations and openers. Data without the list keeps its one caption."""
    return (sample["meta"].get("captions") or [sample["caption"]]) if variants else [sample["caption"]]


def draw_captions(choices, rng):
    """One caption of each sample's choices (rng: the batch's own generator)."""
    return [c[int(rng.integers(len(c)))] if len(c) > 1 else c[0] for c in choices]


def iter_embeddings(data_dir):
    holdout = read_holdout(data_dir)
    for s in list_shards(data_dir):
        for r in iter_shard(s, holdout):
            yield r["embedding"]


def build_person_index(samples):
    """(key, person, embedding) triples -> {person: (keys, embeddings [n,E])}, people with two or more
    training photos only: the photos a sample's face can be taken from instead of its own."""
    groups = {}
    for key, person, emb in samples:
        if person is not None:
            groups.setdefault(person, []).append((key, emb))
    return {p: ([k for k, _ in g], np.stack([e for _, e in g])) for p, g in groups.items() if len(g) > 1}


def face_from_other_photo(keys, persons, embeddings, index, p, rng):
    """The batch's face embeddings, each of a sample with other photos of its person replaced, with
    probability p, by the embedding of one of those photos (uniform, never its own).

    Why: trained on the embedding of the very photo it denoises, the model can read everything that
    photo shows (smile, glasses, hat, hair colour, pose) from the face and ignore the caption, and
    at generation time the reference photo then outvotes the prompt (prompt fidelity 0.33 with the
    face on vs 0.56 off, eval of step 36,880). Another photo of the same person agrees on who it is
    and not on the rest, so the caption has to carry the rest (as in PhotoMaker and IP-Adapter-FaceID
    Plus, which condition on other photos of the person). The draws come from `rng` (the batch's
    seeded generator): the stream stays a deterministic function of its position."""
    out = np.array(embeddings, dtype=np.float32, copy=True)
    if p <= 0:
        return out
    u = rng.random(len(keys))
    for i, (key, person) in enumerate(zip(keys, persons)):
        g = index.get(person)
        if g is None or u[i] >= p:
            continue
        others = [j for j, k in enumerate(g[0]) if k != key]
        out[i] = g[1][others[int(rng.integers(len(others)))]]
    return out


def add_member(tf, name, data):
    """One file of bytes into an open tarfile (fixed mtime: the same samples give the same tar)."""
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    tf.addfile(info, io.BytesIO(data))


def read_image_bytes(loc):
    """The encoded image of a sample: its `jpg` entry (path, offset, size) from iter_shard."""
    path, off, size = loc
    with open(path, "rb") as f:
        f.seek(off)
        return f.read(size)


def load_image(jpg_bytes, resolution):
    img = Image.open(io.BytesIO(jpg_bytes)).convert("RGB")
    if img.size != (resolution, resolution):
        img = img.resize((resolution, resolution), Image.BICUBIC)
    a = np.asarray(img, dtype=np.float32) / 127.5 - 1.0
    return a.transpose(2, 0, 1)


# Mean |difference| between neighbouring rows (or columns) below which an edge row counts as
# replicated: 1.5 grey levels, in the [-1, 1] pixel scale.
REPLICATED_DIFF = 1.5 / 127.5


def edge_runs(a, thr=REPLICATED_DIFF):
    """(top, bottom, left, right): how many rows/columns at each edge of a [C,H,W] image are copies
    of their inner neighbour. The aligner clamps pixels that fall outside the source photo, so a
    crop reaching past a tight source (UTKFace chips: about 25 of 64 rows and columns) carries
    streaks that are not image content."""
    def run(d):
        below = d < thr
        return int(np.argmin(below)) if not below.all() else len(d)
    dr = np.abs(np.diff(a, axis=1)).mean(axis=(0, 2))      # H-1 row-to-row differences
    dc = np.abs(np.diff(a, axis=2)).mean(axis=(0, 1))      # W-1 column-to-column differences
    return run(dr), run(dr[::-1]), run(dc), run(dc[::-1])


def edge_mask(a, thr=REPLICATED_DIFF):
    """[1,H,W] float32 loss mask: 0 on replicated edge rows/columns (edge_runs), 1 elsewhere."""
    _, h, w = a.shape
    top, bottom, left, right = edge_runs(a, thr)
    m = np.zeros((1, h, w), np.float32)
    if top + bottom < h and left + right < w:
        m[:, top:h - bottom, left:w - right] = 1.0
    return m


class ShardStream(torch.utils.data.IterableDataset):
    """Infinite stream of batches dicts: image [B,3,H,W] float32 in [-1,1], mask [B,1,H,W] float32
    (edge_mask; all ones when mask_edges is off), input_ids [B,L] int64, embedding [B,E] float32,
    epoch, batch (position of the batch in its epoch)."""

    def __init__(self, data_dir, tokenizer, batch, resolution, context_length, face_tokens,
                 seed=0, rank=0, world_size=1, start=(0, 0), shuffle_buffer=1000, hflip=True,
                 max_epochs=None, mask_edges=False, p_face_other=0.0, caption_variants=False):
        super().__init__()
        self.data_dir, self.tok, self.batch = data_dir, tokenizer, batch
        self.res, self.L, self.K = resolution, context_length, face_tokens
        self.seed, self.rank, self.world = seed, rank, world_size
        self.start = tuple(start)
        self.buf, self.hflip, self.max_epochs = shuffle_buffer, hflip, max_epochs
        self.mask_edges = mask_edges
        self.shards = list_shards(data_dir)
        if len(self.shards) < world_size:
            raise ValueError(f"{len(self.shards)} shards for {world_size} ranks: each rank needs one")
        self.holdout = read_holdout(data_dir)
        self.p_face_other = p_face_other
        self.caption_variants = caption_variants
        # every rank indexes all training photos (json + npy only, a few seconds): a person's other
        # photos may sit in another rank's shards
        self.people = build_person_index(
            (s["key"], person_of(s["meta"]), s["embedding"])
            for sh in self.shards for s in iter_shard(sh, self.holdout)) if p_face_other > 0 else {}

    def rank_shards(self, epoch):
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self.shards))
        return [self.shards[i] for i in order][self.rank::self.world]

    def raw_samples(self, epoch):
        rng = np.random.default_rng([self.seed, epoch, self.rank, 1])
        buf = []
        for shard in self.rank_shards(epoch):
            for s in iter_shard(shard, self.holdout):
                if len(buf) < self.buf:
                    buf.append(s)
                    continue
                i = int(rng.integers(len(buf)))
                buf[i], s = s, buf[i]
                yield s
        rng.shuffle(buf)
        yield from buf

    def raw_batches(self, epoch):
        cur = []
        for s in self.raw_samples(epoch):
            cur.append(s)
            if len(cur) == self.batch:
                yield cur
                cur = []

    def decode(self, samples, epoch, b):
        rng = np.random.default_rng([self.seed, epoch, self.rank, 2, b])
        flips = rng.random(len(samples)) < 0.5
        imgs, masks = [], []
        files = {}
        for s, flip in zip(samples, flips):
            path, off, size = s["jpg"]
            if path not in files:
                files[path] = open(path, "rb")
            f = files[path]
            f.seek(off)
            a = load_image(f.read(size), self.res)
            if self.hflip and flip:
                a = a[:, :, ::-1]
            imgs.append(np.ascontiguousarray(a))
            masks.append(edge_mask(a) if self.mask_edges else np.ones((1,) + a.shape[1:], np.float32))
        for f in files.values():
            f.close()
        caps = draw_captions([caption_choices(s, self.caption_variants) for s in samples],
                             np.random.default_rng([self.seed, epoch, self.rank, 4, b]))
        return {"image": torch.from_numpy(np.stack(imgs)), "mask": torch.from_numpy(np.stack(masks)),
                "input_ids": torch.tensor([self.tok.encode(c, self.L, self.K) for c in caps], dtype=torch.long),
                "embedding": torch.from_numpy(self.faces(samples, epoch, b)),
                "key": [s["key"] for s in samples], "epoch": epoch, "batch": b}

    def faces(self, samples, epoch, b):
        embs = np.stack([s["embedding"] for s in samples])
        if self.p_face_other <= 0:
            return embs
        rng = np.random.default_rng([self.seed, epoch, self.rank, 3, b])
        return face_from_other_photo([s["key"] for s in samples], [person_of(s["meta"]) for s in samples],
                                     embs, self.people, self.p_face_other, rng)

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        wid, nw = (info.id, info.num_workers) if info is not None else (0, 1)
        epoch, skip = self.start
        p = 0                      # position in this iterator's batch stream
        while self.max_epochs is None or epoch < self.max_epochs:
            n = 0
            for b, raw in enumerate(self.raw_batches(epoch)):
                n += 1
                if b < skip:
                    continue
                if p % nw == wid:
                    yield self.decode(raw, epoch, b)
                p += 1
            if n == 0:
                raise RuntimeError(f"rank {self.rank}: no full batch of {self.batch} in epoch {epoch}")
            epoch, skip = epoch + 1, 0


def make_loader(ds, num_workers, pin_memory=False):
    kw = {}
    if num_workers > 0:
        kw["prefetch_factor"] = 4
    return torch.utils.data.DataLoader(ds, batch_size=None, num_workers=num_workers,
                                       pin_memory=pin_memory, **kw)


class MemoryBatches:
    """The training samples decoded once into memory (on the training device), batches drawn there: for
    the GPU machine, where decoding images on the fly (ShardStream) feeds a few thousand images a second
    and the 0.85-GFLOP UNet trains faster than that. 14k crops of 64x64 are 170 MB as uint8.

    Order: epoch e is a permutation drawn from (seed, e); rank r takes every world-th sample of it, cut
    into batches (the last partial batch dropped); each batch's flips come from (seed, e, rank, b). Like
    ShardStream's, the stream is a deterministic function of (seed, epoch, rank), batches carry their
    position, and start=(epoch, batch) resumes it. It is a different stream from ShardStream's, so a run
    that switches between them continues from the next epoch, as a change of batch size does."""

    def __init__(self, data_dir, tokenizer, batch, resolution, context_length, face_tokens,
                 seed=0, rank=0, world_size=1, start=(0, 0), hflip=True, device="cpu", p_face_other=0.0,
                 caption_variants=False):
        holdout = read_holdout(data_dir)
        imgs, ids, embs, keys, persons = [], [], [], [], []
        for shard in list_shards(data_dir):
            for s in iter_shard(shard, holdout):
                a = load_image(read_image_bytes(s["jpg"]), resolution)
                imgs.append(np.round((a + 1.0) * 127.5).astype(np.uint8))
                ids.append([tokenizer.encode(c, context_length, face_tokens)
                            for c in caption_choices(s, caption_variants)])
                embs.append(s["embedding"])
                keys.append(s["key"])
                persons.append(person_of(s["meta"]))
        n = len(imgs) // world_size
        if n < batch:
            raise ValueError(f"{len(imgs)} training samples for {world_size} rank(s) of batch {batch}: "
                             "each rank needs one full batch")
        self.device = torch.device(device)
        self.images = torch.from_numpy(np.stack(imgs)).to(self.device)
        # [n, V, L]: each sample's caption choices, a shorter list padded with its first (never drawn:
        # the draw is uniform over the sample's own count, which varies where augment dropped repeats)
        V = max(len(c) for c in ids)
        self.input_ids = torch.tensor([c + [c[0]] * (V - len(c)) for c in ids], dtype=torch.long,
                                      device=self.device)
        self.n_captions = np.array([len(c) for c in ids])
        self.embeddings_np = np.stack(embs)           # the swap of p_face_other draws from it on the host
        self.embeddings = torch.from_numpy(self.embeddings_np).to(self.device)
        self.batch, self.seed, self.rank, self.world = batch, seed, rank, world_size
        self.start, self.hflip = tuple(start), hflip
        self.per_epoch = n // batch
        self.p_face_other, self.keys, self.persons = p_face_other, keys, persons
        self.people = build_person_index(zip(keys, persons, embs)) if p_face_other > 0 else {}

    def __len__(self):
        return self.images.shape[0]

    def order(self, epoch):
        # the same seeding as ShardStream's draws (NumPy generators keyed by the stream's position)
        perm = np.random.default_rng([self.seed, epoch]).permutation(self.images.shape[0])
        return torch.from_numpy(perm[self.rank::self.world].copy())

    def get(self, idx, epoch, b):
        rows = idx.cpu().numpy()       # the draws below index host arrays: one copy here, before idx moves
        idx = idx.to(self.device)
        x = self.images[idx].float() / 127.5 - 1.0
        if self.hflip:
            flip = np.random.default_rng([self.seed, epoch, self.rank, 2, b]).random(len(idx)) < 0.5
            flip = torch.from_numpy(flip).to(self.device)
            x = torch.where(flip[:, None, None, None], x.flip(3), x)
        return {"image": x, "mask": None, "input_ids": self.captions(idx, rows, epoch, b),
                "embedding": self.faces(idx, rows, epoch, b), "epoch": epoch, "batch": b}

    def captions(self, idx, rows, epoch, b):
        """Each sample's caption ids: its one caption, or one of its own choices drawn uniformly."""
        if self.input_ids.shape[1] == 1:
            return self.input_ids[idx, 0]
        u = np.random.default_rng([self.seed, epoch, self.rank, 4, b]).random(len(rows))
        pick = torch.from_numpy((u * self.n_captions[rows]).astype(np.int64)).to(self.device)
        return self.input_ids[idx, pick]

    def faces(self, idx, rows, epoch, b):
        if self.p_face_other <= 0:
            return self.embeddings[idx]
        rng = np.random.default_rng([self.seed, epoch, self.rank, 3, b])
        e = face_from_other_photo([self.keys[i] for i in rows], [self.persons[i] for i in rows],
                                  self.embeddings_np[rows], self.people, self.p_face_other, rng)
        return torch.from_numpy(e).to(self.device)

    def __iter__(self):
        epoch, skip = self.start
        while True:
            order = self.order(epoch)
            for b in range(skip, self.per_epoch):
                yield self.get(order[b * self.batch:(b + 1) * self.batch], epoch, b)
            epoch, skip = epoch + 1, 0
