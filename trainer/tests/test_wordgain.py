"""Word gain: the loss-based twin of prompt fidelity (face0_trainer/wordgain.py)."""
import json
import os

import pytest
import torch

from face0_trainer.model import Face0Model
from face0_trainer.schedule import Schedule
from face0_trainer.wordgain import PROBES, WordGain, phrasings, table

SMILING = [p for p in PROBES if p[0] == "Smiling"]


def test_word_gain_is_zero_for_a_model_blind_to_the_text(shards, tokenizer, tiny_cfg):
    wg = WordGain(shards, tokenizer, tiny_cfg, Schedule(1000), per_probe=5, timesteps=(500, 950), split="train",
                  probes=SMILING)
    (p,) = wg.probes
    assert p["n"] == 5 and p["x_t"].shape[0] == 10 and not torch.equal(p["ids_right"], p["ids_wrong"])
    net = Face0Model(tiny_cfg.model)

    class TextBlind(torch.nn.Module):                   # the same context whatever the caption: gain exactly 0
        def forward(self, x_t, t, ids, emb=None):
            return net.unet(x_t, t, torch.zeros(x_t.shape[0], tiny_cfg.model.context_length, tiny_cfg.model.text_width))

    r = wg(TextBlind())
    assert r["Smiling"]["text"] == 0.0 and r["Smiling"]["face"] == 0.0
    assert set(r["Smiling"]["text_by_t"]) == {"500", "950"} and r["mean_text"] == 0.0
    assert "Smiling" in table(r) and "+0.00 %" in table(r)


@pytest.mark.parametrize("n_phrasings", [1, 4])
def test_word_gain_is_one_when_only_the_right_words_predict_the_image(shards, tokenizer, tiny_cfg, n_phrasings):
    wg = WordGain(shards, tokenizer, tiny_cfg, Schedule(1000), per_probe=4, timesteps=(850,), split="train",
                  probes=SMILING, n_phrasings=n_phrasings)
    (p,) = wg.probes
    assert p["ids_right"].shape == (n_phrasings, tiny_cfg.model.context_length)   # (synthetic vocab: openers may be <unk>)

    class WordOracle(torch.nn.Module):                  # exact v for a right caption, zeros for a wrong one
        def forward(self, x_t, t, ids, emb=None):
            i = [int((p["x_t"] - x).abs().flatten(1).sum(1).argmin()) for x in x_t]
            right = (ids[:, None, :] == p["ids_right"][None]).all(-1).any(-1)[:, None, None, None]
            return torch.where(right, p["v"][i], torch.zeros_like(x_t))

    r = wg(WordOracle())
    assert r["Smiling"]["text"] == pytest.approx(1.0) and r["Smiling"]["face"] == pytest.approx(1.0)


def test_phrasings_change_the_opener_only():
    assert phrasings("a photo of a smiling person", 3) == [
        "a photo of a smiling person", "a portrait of a smiling person", "a headshot of a smiling person"]
    with pytest.raises(ValueError, match="does not open"):
        phrasings("a smiling person", 2)


def test_word_gain_refuses_data_without_labelled_samples(shards, tokenizer, tiny_cfg):
    # the synthetic held-out samples carry no attribute labels
    with pytest.raises(ValueError, match="no sample is labelled"):
        WordGain(shards, tokenizer, tiny_cfg, Schedule(1000), split="holdout")


def test_probe_prompts_are_the_evals_prompts():
    """The probes measure what `face0 eval` asks: its prompts word for word (eval/prompts.json)."""
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "eval", "prompts.json")) as f:
        spec = json.load(f)
    evals = {p["attribute"]: p["prompt"] for p in spec["prompts"]}
    for name, _, right, wrong in PROBES:
        assert evals[name] == right, name
        assert wrong in evals.values() or wrong == spec["identity_prompt"], name
