"""CLI: python -m face0_trainer train|export|flops|bench|make-fixture|attributes ..."""
import argparse
import faulthandler
import os
import signal
import sys

# Debian's torch does its matrix products in OpenBLAS, whose worker threads (one per core, started when
# torch loads) spin in sched_yield between calls; torch.set_num_threads does not reach them. With two
# relay ranks on two cores, each rank's spinning worker took a core from the other rank: 40 img/s
# instead of 72. FACE0_THREADS (the relay's threads per rank) caps them before torch is imported.
if os.environ.get("FACE0_THREADS"):
    os.environ.setdefault("OPENBLAS_NUM_THREADS", os.environ["FACE0_THREADS"])

from .config import CONFIGS  # noqa: E402


def _ema_model(ckpt):
    """(EMA model, config, tokenizer, noise schedule) of a checkpoint or relay state: what the gains read."""
    from .relay import load_checkpoint_or_state
    from .schedule import Schedule
    from .train import model_from_checkpoint
    model, cfg, tok = model_from_checkpoint(load_checkpoint_or_state(ckpt))
    return model, cfg, tok, Schedule(cfg.train.timesteps)


def main(argv=None):
    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, all_threads=True)   # `kill -USR1 PID`: where is a stuck run?
    p = argparse.ArgumentParser(prog="python -m face0_trainer", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)

    t = sub.add_parser("train", help="train a stage (base or face0)")
    t.add_argument("--data", required=True, help="augmented dataset folder (shard-*.tar, holdout.txt, ...)")
    t.add_argument("--out", required=True, help="run folder (ckpt.pt, metrics.jsonl, samples-*.png)")
    t.add_argument("--stage", choices=["base", "face0", "joint"], default="base",
                   help="base: text only; face0: from a base checkpoint (--init), face added; "
                        "joint: text and face from step 0")
    t.add_argument("--init", help="base checkpoint to start the face0 stage from")
    t.add_argument("--steps", type=int, default=1000, help="total steps of this stage")
    t.add_argument("--batch", type=int, help="batch per process (default from the config)")
    t.add_argument("--config", default="default", choices=list(CONFIGS))
    t.add_argument("--resume", action="store_true",
                   help="continue from OUT/ckpt.pt exactly or, where OUT has none, from the relay state --state")
    t.add_argument("--state", help="relay state folder (state.pt + state.json) to resume from on a fresh machine")
    t.add_argument("--mask-edges", action="store_true",
                   help="leave replicated (clamped) crop borders out of the loss (see README)")
    t.add_argument("--ckpt-every", type=int, default=500)
    t.add_argument("--sample-every", type=int, default=1000, help="0: never")
    t.add_argument("--seconds", type=float, help="time budget; checkpoints and stops when spent")
    t.add_argument("--log-every", type=int, default=10)
    t.add_argument("--workers", type=int, help="DataLoader workers per process")
    t.add_argument("--lr", type=float)
    t.add_argument("--seed", type=int)
    t.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                   help="override a config field (repeatable), e.g. model.global_context=false; with --resume "
                        "only train.* fields (a segment on other hardware: train.batch=256)")
    t.add_argument("--val-every", type=int, default=500,
                   help="face gain on the held-out people's shards every N steps (0: never)")
    t.add_argument("--val-samples", type=int, default=64, help="held-out samples of the face gain (default 64)")
    t.add_argument("--keep-best", action="store_true",
                   help="also keep OUT/best.pt: the checkpoint of the best held-out face gain so far (one "
                        "process only; for a long GPU segment that may overfit the training people)")

    pk = sub.add_parser("pack", help="one compact file of an augmented dataset, for the GPU machine (pack.py)")
    pk.add_argument("--data", required=True, help="augmented dataset folder")
    pk.add_argument("--out", required=True, help="pack file to write")
    pk.add_argument("--quality", type=int, default=80, help="WebP quality of the images (default 80)")

    up = sub.add_parser("unpack", help="a pack -> shard folder the trainer reads")
    up.add_argument("--pack", required=True)
    up.add_argument("--out", required=True, help="dataset folder to write")

    e = sub.add_parser("export", help="write the ONNX model bundle (EMA weights)")
    e.add_argument("--ckpt", required=True, help="checkpoint (ckpt.pt) or relay state folder (state.json)")
    e.add_argument("--data", required=True, help="dataset folder (identity_stats.json, manifest.json)")
    e.add_argument("--out", required=True)
    e.add_argument("--name", help="bundle name (default face0-<config>)")
    e.add_argument("--face-start", type=float,
                   help="the bundle's default face start: fraction of the steps sampled before the face joins")
    e.add_argument("--face-start-random", type=float,
                   help="the face start for random identities (defaults.face_start_random; absent: --face-start's)")
    e.add_argument("--guidance-rescale", type=float,
                   help="the bundle's default guidance rescale in [0, 1] (defaults.guidance_rescale; absent: off)")

    r = sub.add_parser("save-state", help="write the relay's compact training state from a checkpoint")
    r.add_argument("--ckpt", required=True)
    r.add_argument("--out", required=True, help="state folder (state.pt, state.json)")
    r.add_argument("--reset-cooldown", action="store_true",
                   help="the state goes on at the constant lr (an A/B arm's uncooled checkpoint carries its cooldown)")
    r.add_argument("--ema-only", action="store_true",
                   help="keep the EMA only (half the bytes): a resume restarts the training weights at the EMA")
    r.add_argument("--ema-int8", action="store_true",
                   help="the EMA's weight matrices in int8, one scale per output channel (half the bytes again; "
                        "+2 %% held-out v-loss at the resume point, RECIPES.md sitting 17)")
    r.add_argument("--xz", action="store_true", help="state.pt.xz: the state lzma-compressed (lossless, ~11 %% smaller)")
    r.add_argument("--bundle", help="a bundle exported from this checkpoint: the state keeps no weights and names it "
                                    "(a few KB; the relay resumes from the shipped bundle, bundle_weights.py)")

    ib = sub.add_parser("state-from-bundle", help="a relay state backed by a bundle whose checkpoint was not kept: "
                                                  "step, images and config from its manifest, the rest from the "
                                                  "state it was trained from")
    ib.add_argument("--bundle", required=True)
    ib.add_argument("--base", required=True, help="the relay state the bundle was trained from")
    ib.add_argument("--out", required=True, help="state folder (state.pt.xz, state.json)")
    ib.add_argument("--machine", help="where the segment between the two ran (the manifest does not say)")

    wh = sub.add_parser("whiten", help="a checkpoint with the face projector's input whitened (same function)")
    wh.add_argument("--ckpt", required=True)
    wh.add_argument("--data", required=True, help="dataset folder (identity_stats.json)")
    wh.add_argument("--out", required=True, help="run folder for the result (ckpt.pt); continue with train --resume")

    gr = sub.add_parser("grow", help="a checkpoint with blocks added at the given feature maps (same function; grow.py)")
    gr.add_argument("--ckpt", required=True)
    gr.add_argument("--resolutions", required=True, help="feature-map sizes, comma-separated (e.g. 16,32)")
    gr.add_argument("--kind", default="xattn", choices=["xattn", "transformer"],
                    help="xattn: cross-attention-only blocks; transformer: self+cross-attention and feed-forward")
    gr.add_argument("--out", required=True, help="run folder for the result (ckpt.pt); continue with train --resume")

    fg = sub.add_parser("face-gain", help="face gain of a checkpoint's EMA model on held-out or training samples")
    fg.add_argument("--ckpt", required=True, help="checkpoint (ckpt.pt) or relay state folder (state.json)")
    fg.add_argument("--data", required=True)
    fg.add_argument("--split", choices=["holdout", "train"], default="holdout")
    fg.add_argument("--samples", type=int, default=64)
    fg.add_argument("--caption", help="one caption for every sample instead of its own (e.g. the generic "
                                      "'a photo of a person' of face0 eval's identity figures)")

    wg = sub.add_parser("word-gain", help="word gain of a checkpoint's EMA model: do the eval's attribute words "
                                          "lower the loss on images that have the attribute?")
    wg.add_argument("--ckpt", required=True, help="checkpoint (ckpt.pt) or relay state folder (state.json)")
    wg.add_argument("--data", required=True)
    wg.add_argument("--split", choices=["holdout", "train"], default="holdout")
    wg.add_argument("--per-probe", type=int, default=64, help="samples per attribute at most")
    wg.add_argument("--phrasings", type=int, default=1, help="openers per prompt, 1-4 (1: the eval's prompts "
                                                            "alone; more: losses pooled over 'a portrait of', ...)")
    wg.add_argument("--json", help="also write the figures to this file")

    sm = sub.add_parser("summary", help="markdown: one row per run (pilot table) or a run's learning curve")
    sm.add_argument("runs", nargs="+", help="run folders (metrics.jsonl)")
    sm.add_argument("--curve", action="store_true", help="the learning curve of the first run")
    sm.add_argument("--every", type=int, default=1, help="--curve: every N-th validation")
    sm.add_argument("--segments", action="store_true", help="the training segments of a relay state folder")

    f = sub.add_parser("flops", help="count FLOPs of one UNet evaluation")
    f.add_argument("--config", default="default", choices=list(CONFIGS))

    b = sub.add_parser("bench", help="training throughput (img/s; MFU on CUDA)")
    b.add_argument("--config", default="default", choices=list(CONFIGS))
    b.add_argument("--batch", type=int)
    b.add_argument("--steps", type=int, default=5)
    b.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                   help="override a config field (repeatable)")

    mf = sub.add_parser("make-fixture", help="tiny bundle + torch reference values for the TypeScript tests")
    mf.add_argument("--out", default="../test/fixtures/tiny-bundle")
    mf.add_argument("--steps", type=int, default=30)

    at = sub.add_parser("attributes", help="train + export the evaluation's attribute classifier (CelebA samples)")
    at.add_argument("--data", required=True, help="augmented dataset folder (shard-*.tar, holdout.txt)")
    at.add_argument("--out", required=True, help="output folder (attributes.onnx, attributes.json)")
    at.add_argument("--seconds", type=float, default=300.0, help="training time budget (default 300)")
    at.add_argument("--epochs", type=int, default=40, help="at most this many epochs (default 40)")
    at.add_argument("--batch", type=int, default=64)
    at.add_argument("--width", type=int, default=32, help="channels of the first conv block")
    at.add_argument("--seed", type=int, default=0)
    at.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")

    di = sub.add_parser("distill-id", help="train the identity network of train.id_loss (idnet.py) from face-api's "
                                           "descriptors in the shards")
    di.add_argument("--data", required=True, help="augmented dataset folder (shards, holdout shards, identity_stats.json)")
    di.add_argument("--out", required=True, help="file to write (e.g. ../relay/idnet.pt)")
    di.add_argument("--epochs", type=int, default=12)
    di.add_argument("--batch", type=int, default=128)
    di.add_argument("--lr", type=float, default=2e-3)
    di.add_argument("--width", type=int, default=32, help="channels of the first conv (default 32)")
    di.add_argument("--seconds", type=float, help="time budget")
    di.add_argument("--seed", type=int, default=0)

    a = p.parse_args(argv)
    if a.cmd == "train":
        from .train import train
        train(a.data, a.out, stage=a.stage, init=a.init, steps=a.steps, batch=a.batch, config=a.config,
              resume=a.resume, ckpt_every=a.ckpt_every, sample_every=a.sample_every, seconds=a.seconds,
              log_every=a.log_every, num_workers=a.workers, seed=a.seed, lr=a.lr,
              mask_edges=a.mask_edges or None, val_every=a.val_every, val_samples=a.val_samples,
              keep_best=a.keep_best, overrides=a.set,
              state_dir=a.state, exit_when_done=True)
    elif a.cmd == "pack":
        from .pack import pack
        pack(a.data, a.out, quality=a.quality)
    elif a.cmd == "unpack":
        from .pack import unpack
        unpack(a.pack, a.out)
    elif a.cmd == "export":
        from .export import export
        export(a.ckpt, a.data, a.out, name=a.name, face_start=a.face_start, face_start_random=a.face_start_random,
               guidance_rescale=a.guidance_rescale)
    elif a.cmd == "save-state":
        from .relay import save_state
        info = save_state(a.ckpt, a.out, reset_cooldown=a.reset_cooldown, ema_only=a.ema_only,
                          ema_int8=a.ema_int8, xz=a.xz, bundle=a.bundle)
        print(f"relay state -> {a.out}: step {info['step']}, {info['images']} images, "
              f"{info['bytes'] / 1e6:.3f} MB, sha256 {info['sha256'][:12]}"
              + (f", weights: the bundle {info['bundle']}" if info.get("bundle") else ""))
    elif a.cmd == "state-from-bundle":
        from .relay import state_from_bundle
        info = state_from_bundle(a.base, a.bundle, a.out, machine=a.machine)
        print(f"relay state -> {a.out}: step {info['step']}, {info['images']} images, "
              f"{info['bytes'] / 1e6:.3f} MB, weights: the bundle {info['bundle']}")
    elif a.cmd == "whiten":
        from .whiten import whiten_checkpoint
        print(f"whitened checkpoint -> {whiten_checkpoint(a.ckpt, a.data, a.out)}")
    elif a.cmd == "grow":
        from .grow import grow_checkpoint
        path, res = grow_checkpoint(a.ckpt, [int(r) for r in a.resolutions.split(",") if r], a.out, a.kind)
        print(f"grown checkpoint ({a.kind} blocks at {', '.join(map(str, res))}) -> {path}")
    elif a.cmd == "face-gain":
        import json
        from .validate import FaceGain
        model, cfg, tok, schedule = _ema_model(a.ckpt)
        g = FaceGain(a.data, tok, cfg, schedule, n=a.samples, split=a.split, caption=a.caption)
        print(g.describe())
        print(json.dumps(g(model)))
    elif a.cmd == "word-gain":
        import json
        from .wordgain import WordGain, table
        model, cfg, tok, schedule = _ema_model(a.ckpt)
        wg = WordGain(a.data, tok, cfg, schedule, per_probe=a.per_probe, split=a.split,
                      n_phrasings=a.phrasings)
        print(wg.describe())
        res = wg(model)
        print(table(res))
        if a.json:
            with open(a.json, "w") as f:
                json.dump(res, f, indent=1)
    elif a.cmd == "summary":
        from .summary import curve, pilot_row, segments
        if a.segments:
            print(segments(a.runs[0]))
        elif a.curve:
            print(curve(a.runs[0], a.every))
        else:
            print("| run | img/s | images | held-out v-loss (face / no face) | face gain | face gain, t=900 |")
            print("|---|---|---|---|---|---|")
            for r in a.runs:
                print(pilot_row(r))
    elif a.cmd == "flops":
        from .config import get_config
        from .flops import report
        cfg = get_config(a.config).model
        cfg.vocab_size = 1000
        print(f"config {a.config}")
        print(report(cfg))
    elif a.cmd == "bench":
        from .bench import bench
        bench(a.config, a.batch, a.steps, a.set)
    elif a.cmd == "attributes":
        from .attributes import train_attributes
        train_attributes(a.data, a.out, seconds=a.seconds, epochs=a.epochs, batch=a.batch, width=a.width,
                         seed=a.seed, threads=a.threads)
    elif a.cmd == "distill-id":
        from .idnet import distill
        best = distill(a.data, a.out, epochs=a.epochs, batch=a.batch, lr=a.lr, seconds=a.seconds, width=a.width,
                       seed=a.seed)
        print(f"identity network -> {a.out}: held-out cosine to face-api {best['holdout_cos']:.4f}, "
              f"top-1 {best['holdout_top1']:.3f} (face-api itself {best['teacher_top1']:.3f})")
    elif a.cmd == "make-fixture":
        from .fixture import make_fixture
        make_fixture(a.out, a.steps)


if __name__ == "__main__":
    sys.exit(main())
