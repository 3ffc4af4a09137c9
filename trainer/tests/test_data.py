import tarfile

import numpy as np
import torch

from face0_trainer.data import (ShardStream, make_loader, iter_shard, read_holdout, list_shards, edge_runs,
                                edge_mask)


def stream(shards, tok, cfg, **kw):
    m = cfg.model
    kw.setdefault("shuffle_buffer", 16)
    return ShardStream(shards, tok, 8, m.resolution, m.context_length, m.face_tokens, seed=3, **kw)


def test_batches(shards, tokenizer, tiny_cfg):
    b = next(iter(stream(shards, tokenizer, tiny_cfg)))
    assert b["image"].shape == (8, 3, 64, 64) and b["image"].dtype == torch.float32
    assert -1.0 <= b["image"].min() and b["image"].max() <= 1.0
    assert b["input_ids"].shape == (8, 24) and b["input_ids"].dtype == torch.long
    assert b["embedding"].shape == (8, 128)
    assert torch.allclose(b["embedding"].norm(dim=1), torch.ones(8), atol=1e-5)
    assert (b["input_ids"][:, -4:] == 0).all() and (b["input_ids"][:, 0] == 2).all()


def test_held_out_never_read(shards, tokenizer, tiny_cfg, monkeypatch):
    holdout = read_holdout(shards)
    assert holdout == {"celeba:999"}
    read = []
    orig = tarfile.TarFile.extractfile

    def spy(self, member):
        read.append(member.name if hasattr(member, "name") else member)
        return orig(self, member)

    monkeypatch.setattr(tarfile.TarFile, "extractfile", spy)
    held_keys = set()
    for s in list_shards(shards):
        with tarfile.open(s) as tf:
            for m in tf.getmembers():
                if m.name.endswith(".jpg") and tf.extractfile(m).read().startswith(b"NOT A JPEG"):
                    held_keys.add(m.name[:-4])
    assert len(held_keys) == 3
    read.clear()
    # two epochs through the stream: the (invalid) held-out images would raise if decoded
    keys = []
    for b in stream(shards, tokenizer, tiny_cfg, max_epochs=2):
        keys += b["key"]
    assert keys and not held_keys & set(keys)
    for k in held_keys:
        assert all(not r.startswith(k + ".") or r.endswith(".json") for r in read)
    stats = {}
    n = sum(1 for s in list_shards(shards) for _ in iter_shard(s, holdout, stats))
    assert stats["held_out"] == 3 and n == 3 * 23


def test_order_independent_of_workers_and_resumable(shards, tokenizer, tiny_cfg):
    def take(ds, nw, n):
        it = iter(make_loader(ds, nw))
        return [next(it) for _ in range(n)]

    a = take(stream(shards, tokenizer, tiny_cfg), 0, 12)        # crosses an epoch boundary (8 batches/epoch)
    b = take(stream(shards, tokenizer, tiny_cfg), 2, 12)
    assert [(x["epoch"], x["batch"]) for x in a] == [(x["epoch"], x["batch"]) for x in b]
    for x, y in zip(a, b):
        assert x["key"] == y["key"] and torch.equal(x["image"], y["image"])
    assert a[8]["epoch"] == 1 and a[8]["batch"] == 0
    assert a[0]["key"] != a[8]["key"]                            # reshuffled each epoch
    # resume after batch 5 of epoch 0
    c = take(stream(shards, tokenizer, tiny_cfg, start=(0, 6)), 0, 6)
    for x, y in zip(a[6:], c):
        assert x["key"] == y["key"] and torch.equal(x["image"], y["image"])


def test_ranks_get_disjoint_shards(shards, tokenizer, tiny_cfg):
    r0 = stream(shards, tokenizer, tiny_cfg, rank=0, world_size=2)
    r1 = stream(shards, tokenizer, tiny_cfg, rank=1, world_size=2)
    for epoch in range(3):
        s0, s1 = set(r0.rank_shards(epoch)), set(r1.rank_shards(epoch))
        assert not s0 & s1 and len(s0 | s1) == 3


def test_edge_runs_find_replicated_borders():
    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 1, (3, 64, 64)).astype(np.float32)
    a[:, :5, :] = a[:, 5:6, :]                 # rows 0-4 copy row 5 (a clamped top border)
    a[:, :, -3:] = a[:, :, -4:-3]              # the last 3 columns copy the one before
    assert edge_runs(a) == (5, 0, 0, 3)
    m = edge_mask(a)
    assert m.shape == (1, 64, 64) and m[0, :5].sum() == 0 and m[0, :, -3:].sum() == 0
    assert m.sum() == (64 - 5) * (64 - 3)
    assert edge_runs(rng.uniform(-1, 1, (3, 64, 64)).astype(np.float32)) == (0, 0, 0, 0)
    flat = np.zeros((3, 64, 64), np.float32)   # nothing but copies: left out of the loss entirely
    assert edge_mask(flat).sum() == 0


def test_diffusion_loss():
    from face0_trainer.train import diffusion_loss, min_snr_weight
    g = torch.Generator().manual_seed(0)
    pred, target = torch.randn(2, 3, 8, 8, generator=g), torch.randn(2, 3, 8, 8, generator=g)
    mse = torch.nn.functional.mse_loss
    ones = torch.ones(2, 1, 8, 8)
    assert torch.allclose(diffusion_loss(pred, target, ones), mse(pred, target))
    mask = ones.clone()
    mask[:, :, :2] = 0
    assert torch.allclose(diffusion_loss(pred, target, mask), mse(pred[:, :, 2:], target[:, :, 2:]))
    assert diffusion_loss(pred, target, torch.zeros(2, 1, 8, 8)).item() == 0.0
    # per-sample weights: weight 0 drops a sample, equal weights scale the loss
    w = torch.tensor([1.0, 0.0])
    assert torch.allclose(diffusion_loss(pred, target, weight=w), mse(pred[:1], target[:1]) / 2)
    assert torch.allclose(diffusion_loss(pred, target, weight=torch.full((2,), 3.0)), 3 * mse(pred, target))
    # Min-SNR-5 on v: SNR 1 -> 1/2; SNR 9 -> 5/10; SNR 0.25 -> 0.25/1.25
    abar = torch.tensor([0.5, 0.9, 0.2], dtype=torch.float64)
    assert torch.allclose(min_snr_weight(abar, 5.0), torch.tensor([0.5, 0.5, 0.2], dtype=torch.float64))


def test_stream_masks(shards, tokenizer, tiny_cfg):
    m = tiny_cfg.model
    ds = ShardStream(shards, tokenizer, 4, m.resolution, m.context_length, m.face_tokens, max_epochs=1,
                     mask_edges=True)
    b = next(iter(ds))
    assert b["mask"].shape == (4, 1, m.resolution, m.resolution)
    for img, mask in zip(b["image"].numpy(), b["mask"].numpy()):
        assert np.array_equal(mask, edge_mask(img))
    plain = next(iter(ShardStream(shards, tokenizer, 4, m.resolution, m.context_length, m.face_tokens,
                                  max_epochs=1)))
    assert bool((plain["mask"] == 1).all())


def test_face_from_other_photo_of_the_same_person(shards, tokenizer, tiny_cfg):
    from face0_trainer.data import build_person_index, person_of
    holdout = read_holdout(shards)
    samples = [s for sh in list_shards(shards) for s in iter_shard(sh, holdout)]
    own = {s["key"]: s["embedding"] for s in samples}
    person = {s["key"]: person_of(s["meta"]) for s in samples}
    index = build_person_index((s["key"], person_of(s["meta"]), s["embedding"]) for s in samples)
    assert index and all(len(keys) > 1 for keys, _ in index.values())
    photos_of = {p: {tuple(e) for e in embs} for p, (_, embs) in index.items()}

    off = next(iter(stream(shards, tokenizer, tiny_cfg)))
    assert all(np.array_equal(e.numpy(), own[k]) for k, e in zip(off["key"], off["embedding"]))
    swapped = kept = 0
    for b in stream(shards, tokenizer, tiny_cfg, max_epochs=1, p_face_other=1.0):
        for k, e in zip(b["key"], b["embedding"].numpy()):
            if person[k] in index:       # p = 1: always another photo of the same person, never its own
                assert not np.array_equal(e, own[k]) and tuple(e) in photos_of[person[k]]
                swapped += 1
            else:
                assert np.array_equal(e, own[k])
                kept += 1
    assert swapped > 0
    # deterministic: the same stream position draws the same photos
    a = next(iter(stream(shards, tokenizer, tiny_cfg, p_face_other=0.5)))
    b = next(iter(stream(shards, tokenizer, tiny_cfg, p_face_other=0.5)))
    assert torch.equal(a["embedding"], b["embedding"])


def test_caption_variants_are_drawn_afresh_each_epoch(tmp_path):
    """train.caption_variants: each time an image comes round its caption is one of the list augment
    wrote (meta `captions`), in both readers; off, or on data without the list, always its KEY.txt."""
    from face0_trainer.config import get_config
    from face0_trainer.data import MemoryBatches, iter_captions
    from face0_trainer.synth import write_shards
    from face0_trainer.tokenizer import Tokenizer
    data = write_shards(str(tmp_path / "v"), n_shards=2, per_shard=12, caption_variants=4, holdout_samples=0)
    tok = Tokenizer.build(iter_captions(data))
    m = get_config("tiny").model
    holdout = read_holdout(data)
    choices = {s["key"]: s["meta"]["captions"] for sh in list_shards(data) for s in iter_shard(sh, holdout)}
    assert all(len(c) == 4 for c in choices.values())
    enc = lambda c: tuple(tok.encode(c, m.context_length, m.face_tokens))
    seen, own = {}, {}
    for variants, out in ((True, seen), (False, own)):
        ds = ShardStream(data, tok, 4, m.resolution, m.context_length, m.face_tokens, seed=1,
                         max_epochs=6, caption_variants=variants)
        for b in ds:
            for k, ids in zip(b["key"], b["input_ids"].tolist()):
                out.setdefault(k, set()).add(tuple(ids))
    assert all(ids == {enc(choices[k][0])} for k, ids in own.items())             # off: KEY.txt only
    assert all(ids <= {enc(c) for c in choices[k]} for k, ids in seen.items())    # on: one of its list
    assert sum(len(ids) > 1 for ids in seen.values()) > len(seen) // 2             # and not always the same
    # the in-memory reader (GPU segments): [n, V, L] choices, one drawn per sample and batch
    mb = MemoryBatches(data, tok, 4, m.resolution, m.context_length, m.face_tokens, caption_variants=True)
    assert mb.input_ids.shape[1] == 4
    idx = torch.arange(len(mb))
    drawn = torch.stack([mb.get(idx, e, 0)["input_ids"] for e in range(6)], 1)   # [n, 6, L]
    for i in range(len(mb)):
        rows = {tuple(r) for r in drawn[i].tolist()}
        assert rows <= {tuple(r) for r in mb.input_ids[i].tolist()}
    assert sum(len({tuple(r) for r in drawn[i].tolist()}) > 1 for i in range(len(mb))) > len(mb) // 2
    plain = MemoryBatches(data, tok, 4, m.resolution, m.context_length, m.face_tokens)
    assert plain.input_ids.shape[1] == 1
