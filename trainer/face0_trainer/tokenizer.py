"""Word-level tokenizer shared with the TypeScript side (CONTRACTS.md section 3)."""
import json
import re
from collections import Counter
from typing import Iterable, List

PATTERN = r"[a-z0-9]+|[^a-z0-9\s]"
SPECIALS = ["<pad>", "<unk>", "<bos>", "<eos>"]


class Tokenizer:
    def __init__(self, vocab: List[str]):
        assert vocab[:4] == SPECIALS, "vocab must start with <pad>, <unk>, <bos>, <eos>"
        self.vocab = list(vocab)
        self.index = {w: i for i, w in enumerate(self.vocab)}
        self.pad_id, self.unk_id, self.bos_id, self.eos_id = 0, 1, 2, 3
        self._re = re.compile(PATTERN)

    def __len__(self):
        return len(self.vocab)

    @staticmethod
    def words(text: str) -> List[str]:
        return re.findall(PATTERN, text.lower())

    @classmethod
    def build(cls, captions: Iterable[str], min_count: int = 1) -> "Tokenizer":
        """Vocabulary = specials + words with count >= min_count, by count desc then alphabetically."""
        counts = Counter()
        for c in captions:
            counts.update(cls.words(c))
        words = sorted((w for w, n in counts.items() if n >= min_count and w not in SPECIALS),
                       key=lambda w: (-counts[w], w))
        return cls(SPECIALS + words)

    def encode(self, text: str, length: int, face_tokens: int) -> List[int]:
        """[bos] + ids[:L-K-2] + [eos], padded to L; the last K positions are always padding."""
        ids = [self.index.get(w, self.unk_id) for w in self._re.findall(text.lower())]
        ids = [self.bos_id] + ids[: length - face_tokens - 2] + [self.eos_id]
        return ids + [self.pad_id] * (length - len(ids))

    def to_json(self) -> dict:
        return {"type": "word", "version": 1, "lowercase": True, "pattern": PATTERN,
                "vocab": self.vocab, "pad_id": 0, "unk_id": 1, "bos_id": 2, "eos_id": 3}

    def save(self, path: str):
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_json(), f, ensure_ascii=False, indent=1)
            f.write("\n")

    @classmethod
    def from_json(cls, d: dict) -> "Tokenizer":
        if d.get("type") != "word" or d.get("version") != 1:
            raise ValueError("not a word tokenizer v1")
        return cls(d["vocab"])

    @classmethod
    def load(cls, path: str) -> "Tokenizer":
        with open(path, encoding="utf-8") as f:
            return cls.from_json(json.load(f))
