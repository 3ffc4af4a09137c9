"""Word gain: does the model use the prompt's attribute words? The loss-based twin of face gain for
`face0 eval`'s prompt fidelity.

For each attribute prompt of `face0 eval` (eval/prompts.json), the samples whose CelebA labels have
the attribute are noised at fixed timesteps with fixed noise and denoised twice: captioned with the
eval's prompt for the attribute ("right") and with one that says otherwise ("wrong": blond -> black
hair, eyeglasses -> a hat, smiling -> no mention). word gain = (loss wrong - loss right) / loss
wrong: 0 means the word changes nothing for images that have the attribute, which is what a prompt
fidelity of 0 (blond, gray hair) looks like from the inside. Measured with the face dropped (the text
alone, as the base model and the first steps of a face start) and with the face on (where a face that
carries hair colour can outvote the word). High timesteps by default: hair colour, glasses and
headwear are decided in the noisiest steps (RECIPES sitting 10: swapping blond for black changed the
loss by <= 0.2 % at t <= 700).
"""

import numpy as np
import torch

from .validate import evenly, gain_by_t, load_samples, noised_set

TIMESTEPS = (500, 700, 850, 950)
NO_MENTION = "a photo of a person"
HAT, GLASSES = "a photo of a person with a hat", "a photo of a person with eyeglasses"


def _has(a, yes, no=()):
    """Labels `yes` all present and `no` all absent (unlabelled counts as neither)."""
    return all(a.get(k) is True for k in yes) and all(a.get(k) is False for k in no)


# (name, which labelled samples, the eval's prompt for it, the contrasting prompt). The prompts are
# eval/prompts.json's, word for word, so a gain here is a gain for what `face0 eval` asks; the trainer
# does not read that file because it also runs where only trainer/ is needed (the GPU machine).
# A "with ..." attribute is contrasted with another "with ..." attribute the sample lacks, not with
# no mention: every "with" caption is CelebA's (UTKFace captions have none), so "with anything" against
# "a photo of a person" would also measure that.
PROBES = (
    ("Blond_Hair", lambda a: _has(a, ["Blond_Hair"], ["Black_Hair"]),
     "a photo of a person with blond hair", "a photo of a person with black hair"),
    ("Black_Hair", lambda a: _has(a, ["Black_Hair"], ["Blond_Hair"]),
     "a photo of a person with black hair", "a photo of a person with blond hair"),
    ("Gray_Hair", lambda a: _has(a, ["Gray_Hair"], ["Black_Hair"]),
     "a photo of a person with gray hair", "a photo of a person with black hair"),
    ("Eyeglasses", lambda a: _has(a, ["Eyeglasses"], ["Wearing_Hat"]), GLASSES, HAT),
    ("Wearing_Hat", lambda a: _has(a, ["Wearing_Hat"], ["Eyeglasses"]), HAT, GLASSES),
    ("Beard", lambda a: _has(a, [], ["No_Beard", "Eyeglasses"]), "a photo of a person with a beard", GLASSES),
    ("Smiling", lambda a: _has(a, ["Smiling"]), "a photo of a smiling person", NO_MENTION),
    ("Young", lambda a: _has(a, ["Young"]), "a photo of a young person", "a photo of an old person"),
    ("Old", lambda a: _has(a, [], ["Young"]), "a photo of an old person", "a photo of a young person"),
)


# Other openers of the training captions: with phrasings > 1 each probe's pair is also measured with
# the eval's "a photo of" replaced by these, and the losses pooled, so that how near one template's
# picture lands to the held-out images (its "mode" at high noise) weighs less against the word itself
OPENERS = ("a photo of", "a portrait of", "a headshot of", "a picture of")


def phrasings(prompt, n):
    """The prompt and up to n - 1 others with another opener (the eval's prompts all open "a photo of")."""
    if not prompt.startswith(OPENERS[0]):
        raise ValueError(f"probe prompt {prompt!r} does not open with {OPENERS[0]!r}")
    return [o + prompt[len(OPENERS[0]):] for o in OPENERS[:max(1, n)]]


class WordGain:
    def __init__(self, data_dir, tok, cfg, schedule, per_probe=64, timesteps=TIMESTEPS, seed=0, split="holdout",
                 probes=PROBES, n_phrasings=1):
        samples = load_samples(data_dir, split)
        m = cfg.model
        enc = lambda ps: torch.tensor([tok.encode(p, m.context_length, m.face_tokens) for p in ps])
        self.n_phrasings = max(1, min(n_phrasings, len(OPENERS)))
        self.timesteps, self.split, self.probes, self.device = tuple(timesteps), split, [], "cpu"
        g = torch.Generator().manual_seed(seed)
        for name, has, right, wrong in probes:
            picked = [s for s in samples if has(s["meta"].get("attributes") or {})]
            if not picked:
                continue
            picked = evenly(picked, per_probe)
            t, x_t, v, emb = noised_set(picked, m.resolution, schedule, self.timesteps, g)
            self.probes.append({
                "name": name, "right": right, "wrong": wrong, "n": len(picked),
                "people": len({s["meta"].get("identity") for s in picked}),
                "t": t, "x_t": x_t, "v": v, "emb": emb,
                "ids_right": enc(phrasings(right, self.n_phrasings)),
                "ids_wrong": enc(phrasings(wrong, self.n_phrasings))})
        if not self.probes:
            raise ValueError(f"{data_dir} ({split}): no sample is labelled with any probed attribute "
                             f"({', '.join(p[0] for p in probes)}); word gain needs CelebA-labelled samples")

    @torch.no_grad()
    def _losses(self, model, p, ids, face, batch):
        """Per-sample losses, each the mean over the phrasings (rows of ids)."""
        per_phrasing = []
        for row in ids:
            out = []
            for i in range(0, p["x_t"].shape[0], batch):
                sl = slice(i, i + batch)
                x_t, v = p["x_t"][sl].to(self.device), p["v"][sl].to(self.device)
                t = p["t"][sl].to(self.device).float()
                ids_b = row.to(self.device).repeat(x_t.shape[0], 1)
                pred = model(x_t, t, ids_b, p["emb"][sl].to(self.device)) if face else model(x_t, t, ids_b)
                out.append((pred - v).pow(2).mean(dim=(1, 2, 3)).cpu())
            per_phrasing.append(torch.cat(out).double())
        return torch.stack(per_phrasing).mean(0)

    @torch.no_grad()
    def __call__(self, model, batch=64):
        """{probe: {n, people, text: gain, text_by_t, face: gain, face_by_t}, "mean_text", "mean_face"}:
        gains as fractions (0.01 = the right word lowers the loss by 1 %); means over probes."""
        was = model.training
        model.eval()
        res = {}
        for p in self.probes:
            r = {"n": p["n"], "people": p["people"], "right": p["right"], "wrong": p["wrong"]}
            for key, face in (("text", False), ("face", True)):
                right = self._losses(model, p, p["ids_right"], face, batch)
                wrong = self._losses(model, p, p["ids_wrong"], face, batch)
                r[key] = float((wrong.mean() - right.mean()) / wrong.mean())
                r[key + "_by_t"] = gain_by_t(wrong, right, self.timesteps, p["n"])
            res[p["name"]] = r
        model.train(was)
        res["mean_text"] = float(np.mean([res[p["name"]]["text"] for p in self.probes]))
        res["mean_face"] = float(np.mean([res[p["name"]]["face"] for p in self.probes]))
        return res

    def describe(self):
        who = "held-out" if self.split == "holdout" else "training"
        return (f"word gain on {who} samples x t={list(self.timesteps)}, {self.n_phrasings} phrasing(s) a prompt: "
                + ", ".join(f"{p['name']} {p['n']} ({p['people']} people)" for p in self.probes))


def table(res):
    """Markdown: one row per probe (gains in %)."""
    rows = ["| attribute | right / wrong prompt | n (people) | word gain, face off | by t | word gain, face on | by t |",
            "|---|---|---|---|---|---|---|"]
    pct = lambda x: f"{100 * x:+.2f} %"
    for name, r in res.items():
        if not isinstance(r, dict):
            continue
        bt = lambda d: " / ".join(f"{100 * v:+.2f}" for v in d.values())
        rows.append(f"| {name} | {r['right']!r} / {r['wrong']!r} | {r['n']} ({r['people']}) | {pct(r['text'])} | "
                    f"{bt(r['text_by_t'])} | {pct(r['face'])} | {bt(r['face_by_t'])} |")
    rows.append(f"| mean over probes | | | {pct(res['mean_text'])} | | {pct(res['mean_face'])} | |")
    return "\n".join(rows)
