import json

from face0_trainer.tokenizer import Tokenizer


def tok():
    return Tokenizer.build(["a photo of a smiling woman", "a photo of a man with glasses", "a man"])


def test_vocab_order_and_json(tmp_path):
    t = tok()
    assert t.vocab[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
    assert t.vocab[4] == "a"                      # most frequent first
    p = tmp_path / "tokenizer.json"
    t.save(str(p))
    d = json.loads(p.read_text())
    assert d["type"] == "word" and d["version"] == 1 and d["lowercase"] is True
    assert d["pattern"] == "[a-z0-9]+|[^a-z0-9\\s]"
    assert (d["pad_id"], d["unk_id"], d["bos_id"], d["eos_id"]) == (0, 1, 2, 3)
    assert Tokenizer.load(str(p)).vocab == t.vocab


def test_min_count():
    t = Tokenizer.build(["a b b", "a c"], min_count=2)
    assert set(t.vocab[4:]) == {"a", "b"}


def test_encode_contract():
    t = tok()
    L, K = 24, 4
    ids = t.encode("A Photo of a SMILING woman!", L, K)
    assert len(ids) == L
    i = t.index
    assert ids[:8] == [2, i["a"], i["photo"], i["of"], i["a"], i["smiling"], i["woman"], 1]   # '!' is unknown
    assert ids[8] == 3 and ids[9:] == [0] * (L - 9)
    assert ids[-K:] == [0] * K


def test_empty_and_truncation():
    t = tok()
    L, K = 24, 4
    assert t.encode("", L, K) == [2, 3] + [0] * (L - 2)
    long = " ".join(["photo"] * 50)
    ids = t.encode(long, L, K)
    assert len(ids) == L and ids[0] == 2 and ids[L - K - 1] == 3
    assert ids[1:L - K - 1] == [t.index["photo"]] * (L - K - 2)
    assert ids[-K:] == [0] * K


def test_pattern_splits_punctuation_and_digits():
    assert Tokenizer.words("Hi, it's 42-year-old") == ["hi", ",", "it", "'", "s", "42", "-", "year", "-", "old"]
