import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# tests run tiny models: one thread is fastest and robust to other processes on a shared machine
os.environ.setdefault("FACE0_THREADS", "1")
torch.set_num_threads(int(os.environ["FACE0_THREADS"]))

from face0_trainer.synth import write_shards  # noqa: E402


@pytest.fixture(scope="session")
def shards(tmp_path_factory):
    """3 synthetic shards x 24 samples (one held-out sample per shard, with an invalid jpg)."""
    return write_shards(str(tmp_path_factory.mktemp("data")), n_shards=3, per_shard=24, seed=0)


@pytest.fixture(scope="session")
def tokenizer(shards):
    from face0_trainer.data import iter_captions
    from face0_trainer.tokenizer import Tokenizer
    return Tokenizer.build(iter_captions(shards))


@pytest.fixture(scope="session")
def tiny_cfg(tokenizer):
    from face0_trainer.config import get_config
    cfg = get_config("tiny")
    cfg.model.vocab_size = len(tokenizer)
    return cfg


@pytest.fixture(scope="session")
def trained_run(shards, tmp_path_factory):
    """A 3-step tiny base run (used by the export tests)."""
    from face0_trainer.train import train
    out = str(tmp_path_factory.mktemp("run"))
    train(shards, out, stage="base", steps=3, config="tiny", ckpt_every=0, sample_every=0, quiet=True)
    return out
