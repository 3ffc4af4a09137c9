"""data.MemoryBatches (the GPU segment's in-memory training set) and the RNG restore across device types."""
import itertools

import pytest
import torch

from face0_trainer.data import MemoryBatches, iter_shard, list_shards, read_holdout
from face0_trainer.train import rng_state, set_rng_state


def batches(shards, tok, cfg, **kw):
    m = cfg.model
    kw.setdefault("seed", 3)
    return MemoryBatches(shards, tok, kw.pop("batch", 8), m.resolution, m.context_length, m.face_tokens, **kw)


def test_holds_the_training_samples_only(shards, tokenizer, tiny_cfg):
    holdout = read_holdout(shards)
    n_train = sum(1 for sh in list_shards(shards) for _ in iter_shard(sh, holdout))
    mb = batches(shards, tokenizer, tiny_cfg)
    # (the held-out samples' jpgs are invalid: decoding one would raise)
    assert len(mb) == n_train and mb.images.dtype == torch.uint8
    b = next(iter(mb))
    assert b["image"].shape == (8, 3, 64, 64) and b["image"].dtype == torch.float32
    assert -1.0 <= b["image"].min() and b["image"].max() <= 1.0 and b["mask"] is None
    assert b["input_ids"].shape == (8, 24) and b["embedding"].shape == (8, 128)
    assert (b["epoch"], b["batch"]) == (0, 0)


def test_epoch_is_a_permutation_split_between_ranks(shards, tokenizer, tiny_cfg):
    r0 = batches(shards, tokenizer, tiny_cfg, rank=0, world_size=2)
    r1 = batches(shards, tokenizer, tiny_cfg, rank=1, world_size=2)
    o0, o1 = r0.order(5), r1.order(5)
    assert sorted(torch.cat([o0, o1]).tolist()) == list(range(len(r0)))
    assert not torch.equal(r0.order(5), r0.order(6))          # a new order every epoch
    per = r0.per_epoch
    got = list(itertools.islice(iter(r0), per + 1))
    assert [(b["epoch"], b["batch"]) for b in got] == [(0, i) for i in range(per)] + [(1, 0)]


def test_stream_is_deterministic_and_resumes_at_its_position(shards, tokenizer, tiny_cfg):
    full = list(itertools.islice(iter(batches(shards, tokenizer, tiny_cfg)), 12))
    again = list(itertools.islice(iter(batches(shards, tokenizer, tiny_cfg)), 12))
    for a, b in zip(full, again):
        assert torch.equal(a["image"], b["image"]) and torch.equal(a["input_ids"], b["input_ids"])
    k = 7
    resumed = list(itertools.islice(iter(batches(shards, tokenizer, tiny_cfg,
                                                 start=(full[k]["epoch"], full[k]["batch"]))), 12 - k))
    for a, b in zip(full[k:], resumed):
        assert (a["epoch"], a["batch"]) == (b["epoch"], b["batch"])
        assert torch.equal(a["image"], b["image"]) and torch.equal(a["embedding"], b["embedding"])
    other = next(iter(batches(shards, tokenizer, tiny_cfg, seed=4)))
    assert not torch.equal(other["image"], full[0]["image"])


def test_flips_some_images(shards, tokenizer, tiny_cfg):
    mb = batches(shards, tokenizer, tiny_cfg, batch=32)
    plain = batches(shards, tokenizer, tiny_cfg, batch=32, hflip=False)
    a, p = next(iter(mb)), next(iter(plain))
    same = (a["image"] == p["image"]).flatten(1).all(1)
    mirrored = (a["image"] == p["image"].flip(3)).flatten(1).all(1)
    assert (same | mirrored).all() and 0 < mirrored.sum() < 32


def test_refuses_fewer_samples_than_a_batch(shards, tokenizer, tiny_cfg):
    with pytest.raises(ValueError, match="one full batch"):
        batches(shards, tokenizer, tiny_cfg, batch=1000)


def test_rng_state_restores_or_reseeds_across_device_types():
    gen = torch.Generator().manual_seed(1)
    s = rng_state(gen)
    assert s["gen_device"] == "cpu"
    want = torch.rand(3, generator=gen)
    assert set_rng_state(s, gen, reseed=99) is True
    assert torch.equal(torch.rand(3, generator=gen), want)
    # a state saved on another device type (the GPU segment's, back on CPU) cannot seed this generator
    other = dict(s, gen_device="cuda", gen=torch.zeros(16, dtype=torch.uint8))
    assert set_rng_state(other, gen, reseed=99) is False
    assert torch.equal(torch.rand(3, generator=gen), torch.rand(3, generator=torch.Generator().manual_seed(99)))
    # states written before gen_device was recorded are CPU states
    old = {k: v for k, v in s.items() if k != "gen_device"}
    assert set_rng_state(old, gen, reseed=99) is True
    assert torch.equal(torch.rand(3, generator=gen), want)


def test_face_from_other_photo_in_memory(shards, tokenizer, tiny_cfg):
    own = batches(shards, tokenizer, tiny_cfg)
    other = batches(shards, tokenizer, tiny_cfg, p_face_other=1.0)
    swapped = 0
    for a, b in itertools.islice(zip(iter(own), iter(other)), 4):
        assert torch.equal(a["image"], b["image"])                   # the same samples, only faces differ
        idx = own.order(a["epoch"])[a["batch"] * 8:(a["batch"] + 1) * 8].tolist()
        for i, ea, eb in zip(idx, a["embedding"], b["embedding"]):
            p = other.persons[i]
            if p in other.people:
                photos = other.people[p][1]
                assert not torch.equal(ea, eb)
                assert any(torch.equal(eb, torch.from_numpy(e)) for e in photos)
                swapped += 1
            else:
                assert torch.equal(ea, eb)
    assert swapped > 0
