"""Markdown rows from runs' metrics.jsonl: the pilot table of RECIPES.md and the relay's learning curve."""
import gzip
import json
import os
import re
import statistics


def curve_parts(state_dir):
    """A relay state folder's committed curve, in order: metrics.jsonl.gz, then metrics-STEP.jsonl.gz, one part
    per later state (since sitting 22 `relay.sh finish` adds only the new rows: the history is bounded)."""
    parts = sorted(f for f in os.listdir(state_dir) if re.fullmatch(r"metrics-\d+\.jsonl\.gz", f))
    first = ["metrics.jsonl.gz"] if os.path.exists(os.path.join(state_dir, "metrics.jsonl.gz")) else []
    return [os.path.join(state_dir, f) for f in first + parts]


def read_metrics(run):
    """A run folder's metrics.jsonl, or a relay state folder's committed curve (curve_parts)."""
    path = os.path.join(run, "metrics.jsonl")
    parts = [] if os.path.exists(path) else curve_parts(run)
    if parts:
        rows = []
        for part in parts:
            with gzip.open(part, "rt", encoding="utf-8") as f:
                rows += [json.loads(x) for x in f if x.strip()]
        return rows
    with open(path, encoding="utf-8") as f:
        return [json.loads(x) for x in f if x.strip()]


def pilot_row(run):
    """| run | img/s | images | held-out v-loss (face / no face) | face gain | gain at t=900 |"""
    rows = read_metrics(run)
    train = [r for r in rows if "img_per_s" in r]
    vals = [r for r in rows if "face_gain" in r]
    ips = statistics.median(r["img_per_s"] for r in train[1:] or train) if train else float("nan")
    last = vals[-1] if vals else {}
    name = os.path.basename(os.path.normpath(run))
    return (f"| {name} | {ips:.1f} | {last.get('images', train[-1]['images'] if train else 0):,} | "
            f"{last.get('val_loss_face', float('nan')):.4f} / {last.get('val_loss_noface', float('nan')):.4f} | "
            f"{100 * last.get('face_gain', float('nan')):+.3f}% | "
            f"{100 * last.get('face_gain_by_t', {}).get('900', float('nan')):+.2f}% |")


def curve(run, every=1):
    """images seen -> held-out loss and face gain, one row per validation."""
    out = ["| step | images | held-out v-loss (face) | face gain | by t (100/300/500/700/900) "
           "| face gain, generic caption |", "|---|---|---|---|---|---|"]
    vals = [r for r in read_metrics(run) if "face_gain" in r]
    for i, r in enumerate(vals):
        if i % every and i != len(vals) - 1:
            continue
        by = "/".join(f"{100 * v:+.2f}" for v in r["face_gain_by_t"].values())
        gen = f"{100 * r['generic_face_gain']:+.3f}%" if "generic_face_gain" in r else "—"
        out.append(f"| {r['step']:,} | {r['images']:,} | {r['val_loss_face']:.4f} | {100 * r['face_gain']:+.3f}% "
                   f"| {by} | {gen} |")
    return "\n".join(out)


def segments(state_dir):
    """The training segments recorded in a relay state's state.json (the model card's table)."""
    with open(os.path.join(state_dir, "state.json"), encoding="utf-8") as f:
        segs = json.load(f).get("segments", [])
    out = ["| started (UTC) | machine | ranks | steps | images | seconds | img/s | changed |",
           "|---|---|---|---|---|---|---|---|"]
    for s in segs:
        n = s["to_images"] - s["from_images"]
        out.append(f"| {s['started'][:16].replace('T', ' ')} | {s['machine']} | {s['ranks']} | "
                   f"{s['from_step']:,} → {s['to_step']:,} | {n:,} | {s['seconds']:,.0f} | "
                   f"{n / max(s['seconds'], 1e-9):.1f} | {', '.join(s.get('changed', [])) or '—'} |")
    return "\n".join(out)
