"""Training loop: stages `base` (context = text encoder output), `face0` (init from a base
checkpoint, face projector added, everything trained jointly with face/text dropout; the paper's
recipe) and `joint` (from scratch, face and text dropped independently from step 0: every image
teaches the face path and the face-dropped network is the base model).

Loss: MSE on v (schedule.py), optionally Min-SNR-gamma weighted. AdamW, linear warm-up, grad clipping, EMA. bf16 autocast,
channels_last, fused AdamW and torch.compile on CUDA when the torch version has them; fp32 on CPU.
DDP under torchrun (gloo on CPU, nccl on CUDA); only rank 0 writes.

Exact resume: the checkpoint holds step, model, optimiser, EMA, LR scheduler, every RNG state
(python, numpy, torch, cuda, and the generator that draws t/noise/dropout) and each rank's data
position (epoch, next batch); the data stream is a deterministic function of (seed, epoch, rank)
(data.py), so N steps + resume N steps gives the same parameters as 2N steps.
"""
import contextlib
import copy
import inspect
import json
import math
import os
import random
import signal
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from .config import Config, apply_overrides, get_config, to_dict, from_dict
from .data import MemoryBatches, ShardStream, make_loader, iter_captions
from .flops import unet_flops
from .idnet import id_loss, load_idnet
from .model import Face0Model
from .schedule import Schedule, ddim_sample
from .tokenizer import Tokenizer

CKPT_FORMAT = "face0-ckpt-1"
SAMPLE_PROMPTS = ["a photo of a smiling woman", "a photo of a man with glasses",
                  "a photo of an old man with a beard", "a photo of a young woman with blond hair"]


# ----------------------------------------------------------------------------- small helpers

def cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def cpu_threads(local_world=1, loader_workers=0):
    """Threads per process: the cores (affinity) split between local ranks, less one core per
    DataLoader worker (2 torch threads beside the worker on 2 cores: 6.5 img/s; 1 thread: 11 img/s),
    fewer when the load average shows other busy processes. FACE0_THREADS overrides."""
    if os.environ.get("FACE0_THREADS"):
        return int(os.environ["FACE0_THREADS"])
    cores = cpu_count() - local_world * loader_workers
    n = max(1, cores // local_world)
    try:
        free = cores - os.getloadavg()[0]
    except OSError:
        free = cores
    return max(1, min(n, int(free / local_world + 0.5)))


def machine_description(device):
    """What trained a segment: CPU model and cores (or the GPU), torch version, threads."""
    import platform
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}"
    cpu = platform.processor() or "cpu"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return f"{cpu}, {cpu_count()} cores, {torch.get_num_threads()} thread(s)/rank, torch {torch.__version__}"


def setup_distributed():
    """(rank, world_size, local_rank, device). torchrun sets RANK/WORLD_SIZE/LOCAL_RANK."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    else:
        device = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return rank, world, local, device


def atomic_save(obj, path):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def save_converted(ck, cfg, model_sd, ema_sd, out_dir):
    """A checkpoint whose model was re-parametrised (`whiten`, `grow`) -> out_dir/ckpt.pt. AdamW's state
    no longer fits the parameters, so it is dropped and the run resumes like a compact relay state
    (moments at zero, learning rate warmed up again)."""
    out = {k: v for k, v in ck.items() if k not in ("optimizer", "scheduler")}
    out.update(config=to_dict(cfg), model=model_sd, ema=ema_sd, compact=True)
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "ckpt.pt")
    atomic_save(out, path)
    return path


def rng_state(gen):
    name, keys, pos, has_gauss, cached = np.random.get_state()
    # NumPy's state as plain Python values: an ndarray pickles differently under NumPy 1 and 2
    s = {"python": random.getstate(), "numpy": (name, keys.tolist(), pos, has_gauss, cached),
         "torch": torch.get_rng_state(), "gen": gen.get_state(), "gen_device": gen.device.type}
    if torch.cuda.is_available():
        s["cuda"] = torch.cuda.get_rng_state_all()
    return s


def set_rng_state(s, gen, reseed):
    """Restores the RNG states of a checkpoint. The generator that draws t/noise/dropout lives on the
    training device, and a CPU generator's state (Mersenne Twister, 5 KB) cannot seed a CUDA one (Philox,
    16 bytes): a run that moves between CPU and GPU (the relay's GPU segment) reseeds it with `reseed`
    instead. Returns True when the generator's state was restored."""
    random.setstate(s["python"])
    np.random.set_state(s["numpy"])
    torch.set_rng_state(s["torch"])
    if torch.cuda.is_available() and "cuda" in s:
        torch.cuda.set_rng_state_all(s["cuda"])
    # states written before gen_device was recorded came from CPU runs (no GPU run had resumed one)
    if s.get("gen_device", "cpu") != gen.device.type:
        gen.manual_seed(reseed)
        return False
    gen.set_state(s["gen"])
    return True


def make_optimizer(model, tc, device):
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    kw = {}
    if device.type == "cuda" and "fused" in inspect.signature(torch.optim.AdamW).parameters:
        kw["fused"] = True
    return torch.optim.AdamW([{"params": decay, "weight_decay": tc.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}],
                             lr=tc.lr, betas=(0.9, 0.99), **kw)


@torch.no_grad()
def ema_update(ema, model, decay):
    ep = list(ema.parameters())
    mp = [p.detach().float() for p in model.parameters()]
    if hasattr(torch, "_foreach_mul_"):
        torch._foreach_mul_(ep, decay)
        torch._foreach_add_(ep, mp, alpha=1 - decay)
    else:
        for pe, p in zip(ep, mp):
            pe.mul_(decay).add_(p, alpha=1 - decay)
    for be, b in zip(ema.buffers(), model.buffers()):
        be.copy_(b)


def torch_load(path):
    """torch.load of our own files (checkpoints, relay states; a path or a file object): they hold RNG states and config dicts,
    so torch 2's weights_only default would refuse them. Files pickled under NumPy 2 (the GPU machine's)
    name the module numpy._core, which NumPy 1 (Debian's, here) calls numpy.core: alias it for the load."""
    kw = {"weights_only": False} if "weights_only" in inspect.signature(torch.load).parameters else {}
    if "numpy._core" not in sys.modules and not hasattr(np, "_core"):
        import numpy.core.multiarray
        sys.modules.setdefault("numpy._core", np.core)
        sys.modules.setdefault("numpy._core.multiarray", np.core.multiarray)
    return torch.load(path, map_location="cpu", **kw)


def load_checkpoint(path):
    ck = torch_load(path)
    if ck.get("format") != CKPT_FORMAT:
        raise ValueError(f"{path}: not a {CKPT_FORMAT} checkpoint")
    return ck


def model_from_checkpoint(ck, ema=True):
    cfg = from_dict(ck["config"])
    model = Face0Model(cfg.model)
    model.load_state_dict(ck["ema"] if ema else ck["model"])
    return model, cfg, Tokenizer.from_json(ck["tokenizer"])


def draw_conditioning(ids, empty_ids, gen, p_text_drop, p_face_drop, t=None, high=None):
    """Independent dropout of text and face (Face0): a dropped text becomes the empty caption's ids;
    a dropped face is face_mask=False (the context keeps the text encoder's output there).
    high=(t_from, p): samples with t >= t_from drop the face with probability p instead (the same
    random draws either way, so a run without it is unchanged)."""
    u = torch.rand(ids.shape[0], 2, generator=gen, device=ids.device)
    ids = torch.where((u[:, 0] < p_text_drop)[:, None], empty_ids[None], ids)
    if high is None:
        return ids, u[:, 1] >= p_face_drop
    p = torch.where(t >= high[0], torch.full_like(u[:, 1], high[1]), torch.full_like(u[:, 1], p_face_drop))
    return ids, u[:, 1] >= p


# ----------------------------------------------------------------------------- sample grid

@torch.no_grad()
def sample_grid(model, tok, cfg, sched, embeddings, path, steps=20, text_scale=3.0, face_scale=2.0,
                seed=1234):
    """PNG grid: one row per prompt; columns = no face, then one per embedding (if any)."""
    from PIL import Image
    m = cfg.model
    model.eval()
    dev = next(model.parameters()).device
    ids = torch.tensor([tok.encode(p, m.context_length, m.face_tokens) for p in SAMPLE_PROMPTS], device=dev)
    empty = torch.tensor([tok.encode("", m.context_length, m.face_tokens)], device=dev)
    cols = [None] + ([e for e in embeddings] if embeddings is not None else [])
    g = torch.Generator().manual_seed(seed)
    rows = []
    for r in range(len(SAMPLE_PROMPTS)):
        ctx_t = model.text_encoder(ids[r:r + 1])
        ctx_u = model.text_encoder(empty)
        row = []
        for c, e in enumerate(cols):
            x = torch.randn(1, m.channels, m.resolution, m.resolution, generator=g).to(dev)
            ctx_f = None if e is None else model.context(ids[r:r + 1], e.view(1, -1).to(dev))
            row.append(ddim_sample(model.unet, x, ctx_u, ctx_t, ctx_f, sched.alphas_cumprod, steps,
                                   text_scale, face_scale if e is not None else 0.0))
        rows.append(torch.cat(row, dim=3))
    img = torch.cat(rows, dim=2)[0].float().clamp(-1, 1)
    arr = ((img + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()
    tmp = path + ".tmp.png"
    Image.fromarray(arr).save(tmp)
    os.replace(tmp, path)


# ----------------------------------------------------------------------------- training

def lr_factor(step, warmup, steps, decay="cosine", floor=0.1, rewarm_from=None, cooldown=(0, 0)):
    """Multiplier of the base learning rate: linear warm-up, then constant or a cosine from 1 down to
    `floor` at `steps` (the stage's last step; a time-budgeted run that stops early keeps a higher lr).
    rewarm_from: the step a run resumed from a relay state (fresh AdamW moments) warms up again from.
    cooldown: (from step, steps): a linear fall to `floor` over those steps, on top of the rest."""
    w = min(1.0, (step + 1) / warmup)
    if rewarm_from is not None and step >= rewarm_from:
        w = min(w, (step - rewarm_from + 1) / warmup)
    c_from, c_steps = cooldown
    if c_steps > 0 and step >= c_from:
        w *= 1.0 - (1.0 - floor) * min(1.0, (step - c_from) / c_steps)
    if decay == "constant" or steps <= warmup:
        return w
    if decay != "cosine":
        raise ValueError(f"unknown lr_decay {decay!r} (expected cosine or constant)")
    p = min(1.0, max(0.0, (step - warmup) / (steps - warmup)))
    return w * (floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * p)))


def min_snr_weight(alphas_cumprod_t, gamma):
    """Min-SNR-gamma for a v-prediction loss: min(SNR, gamma) / (SNR + 1), SNR = abar / (1 - abar).
    (The v-loss is the x0-loss times SNR + 1; Min-SNR caps the x0-loss weight at gamma.)"""
    snr = alphas_cumprod_t / (1.0 - alphas_cumprod_t)
    return snr.clamp(max=gamma) / (snr + 1.0)


def diffusion_loss(pred, target, mask=None, weight=None):
    """Mean squared error per sample (over the pixels where mask [B,1,H,W] is 1), averaged over the
    batch with optional per-sample weights [B]. No mask and no weight: plain MSE."""
    if mask is None and weight is None:
        return F.mse_loss(pred, target)
    se = (pred - target).pow(2)
    if mask is None:
        per = se.mean(dim=(1, 2, 3))
    else:
        per = (se * mask).sum(dim=(1, 2, 3)) / (mask.sum(dim=(1, 2, 3)) * pred.shape[1]).clamp(min=1.0)
    return (per * weight).mean() if weight is not None else per.mean()


class StopFlag:
    def __init__(self):
        self.stop = False
        self.old = {}

    def install(self):
        for s in (signal.SIGTERM, signal.SIGINT):
            self.old[s] = signal.signal(s, self.handler)

    def handler(self, signum, frame):
        self.stop = True

    def uninstall(self):
        for s, h in self.old.items():
            signal.signal(s, h)


def train(data, out, stage="base", init=None, steps=1000, batch=None, config="default", resume=False,
          ckpt_every=500, sample_every=1000, seconds=None, log_every=10, num_workers=None, seed=None,
          lr=None, quiet=False, mask_edges=None, val_every=500, val_samples=64, keep_best=False,
          overrides=None, state_dir=None, exit_when_done=False):
    """exit_when_done: a DDP rank (world > 1) ends its process once the group is left (the CLI sets it)."""
    rank, world, local, device = setup_distributed()
    is_main = rank == 0
    log = (lambda *a: print(*a, flush=True)) if (is_main and not quiet) else (lambda *a: None)
    os.makedirs(out, exist_ok=True)
    ckpt_path = os.path.join(out, "ckpt.pt")
    t_start = time.time()

    # ---- config, tokenizer, model, provenance
    ck = None
    if resume:
        if os.path.exists(ckpt_path):
            # exact: same machine, full state; or a compact checkpoint `grow`/`whiten` wrote in the run folder
            ck, source = load_checkpoint(ckpt_path), ckpt_path
        elif state_dir:
            from .relay import load_state
            ck, source = load_state(state_dir), f"the relay state {state_dir}"   # weights, EMA, RNG, data position
            log(f"resuming from the relay state {state_dir} (step {ck['step']}; AdamW moments start at zero, "
                f"learning rate warms up again)")
        else:
            raise FileNotFoundError(f"--resume: no checkpoint at {ckpt_path} (and no --state given)")
        cfg, tok, stage = from_dict(ck["config"]), Tokenizer.from_json(ck["tokenizer"]), ck["stage"]
        history = ck["history"]
        resumed_batch, resumed_in_memory = cfg.train.batch, cfg.train.in_memory
        if overrides:
            # a relay segment on other hardware (the GPU machine: a larger batch) changes training
            # settings; the weights fix the model, so model.* cannot change
            fixed = [o for o in overrides if not o.startswith("train.")]
            if fixed:
                raise ValueError(f"--set {fixed[0]!r} with --resume: only train.FIELD=VALUE can change "
                                 "on resume (the checkpoint's weights fix the model)")
            cfg = apply_overrides(cfg, overrides)
            log(f"resume with changed settings: {', '.join(overrides)}")
    elif stage == "face0":
        if not init:
            raise ValueError("stage face0 needs --init BASE_CKPT")
        base = load_checkpoint(init)
        cfg, tok = from_dict(base["config"]), Tokenizer.from_json(base["tokenizer"])
        cfg.train = apply_overrides(get_config(config), overrides).train
        history = base["provenance"]
    elif stage in ("base", "joint"):
        cfg = apply_overrides(get_config(config), overrides)
        tok = None
        history = []
    else:
        raise ValueError(f"unknown stage {stage!r}")
    tc = cfg.train
    # DataLoader workers do not change the data order, so they may differ on resume; -1 = auto:
    # enough to keep a GPU fed; on CPU one, since decoding competes with the compute
    workers = num_workers if num_workers is not None else tc.num_workers
    if workers < 0:
        workers = min(8, max(1, cpu_count() // world - 2)) if device.type == "cuda" else 1
    if device.type == "cpu":
        # fewer threads than cores avoids OpenMP spin-wait contention with the DataLoader workers and
        # other busy processes (measured: 1 thread 10x faster than 2 under load)
        torch.set_num_threads(cpu_threads(int(os.environ.get("LOCAL_WORLD_SIZE", str(world))), workers))
    if not resume:                  # a resumed run keeps the checkpoint's settings (exactness)
        if batch:
            tc.batch = batch
        if seed is not None:
            tc.seed = seed
        if lr is not None:
            tc.lr = lr
        if mask_edges is not None:
            tc.mask_edges = mask_edges
    if tok is None:
        tok = Tokenizer.build(iter_captions(data), tc.min_count)
        log(f"tokenizer: {len(tok)} words from the training captions (min count {tc.min_count})")
    cfg.model.vocab_size = len(tok)
    m = cfg.model

    torch.manual_seed(tc.seed)
    random.seed(tc.seed)
    np.random.seed(tc.seed)
    model = Face0Model(m)
    if stage == "face0" and not resume:
        sd = {k: v for k, v in base["ema"].items() if not k.startswith("face_projector.")}
        missing, unexpected = model.load_state_dict(sd, strict=False)
        assert not unexpected and all(k.startswith("face_projector.") for k in missing)
    uses_face = stage in ("face0", "joint")
    idnet = None
    if tc.id_loss > 0:
        if not uses_face:
            raise ValueError("train.id_loss needs a face stage (face0 or joint)")
        idnet = load_idnet(tc.id_net, device)
    if m.whiten_embedding and ck is None:            # a new run: whitening from the training embeddings
        from .export import identity_prior
        prior, _ = identity_prior(data)
        model.face_projector.set_whitening(prior["mean"], prior["cholesky"])
    model.face_projector.requires_grad_(uses_face)
    model.to(device)
    cuda = device.type == "cuda"
    if cuda:
        model.to(memory_format=torch.channels_last)
    ema = copy.deepcopy(model).float().requires_grad_(False).eval()
    opt = make_optimizer(model, tc, device)
    warm = max(1, tc.warmup)
    rewarm_from = ck.get("rewarm_from") if ck is not None else None
    if ck is not None and ck.get("compact"):
        rewarm_from = ck["step"]
    sched_lr = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: lr_factor(s, warm, steps, tc.lr_decay, tc.lr_floor, rewarm_from,
                                (tc.cooldown_from, tc.cooldown_steps)))
    sched = Schedule(tc.timesteps)
    gen = torch.Generator(device=device)
    gen.manual_seed(tc.seed * 1000003 + rank)

    step, positions, seconds_done, images_done = 0, None, 0.0, 0
    segments = list(ck.get("segments", [])) if ck is not None else []
    sample_emb = None
    if ck is not None:
        model.load_state_dict(ck["model"])
        ema.load_state_dict(ck["ema"])
        step, seconds_done, images_done = ck["step"], ck["seconds"], ck["images"]
        if ck.get("compact"):
            sched_lr.last_epoch = step                # fresh AdamW moments; the lr of `step` (re-warm-up)
            for g, base_lr, f in zip(opt.param_groups, sched_lr.base_lrs, sched_lr.lr_lambdas):
                g["lr"] = base_lr * f(step)
        else:
            opt.load_state_dict(ck["optimizer"])
            sched_lr.load_state_dict(ck["scheduler"])
        positions = ck["data"]["positions"]
        sample_emb = ck.get("sample_embeddings")
        if len(positions) != world or tc.batch != resumed_batch or tc.in_memory != resumed_in_memory:
            # (ShardStream and MemoryBatches order an epoch differently: positions do not carry over)
            log(f"warning: checkpoint from {len(positions)} ranks of batch {resumed_batch} (in_memory "
                f"{resumed_in_memory}), now {world} of {tc.batch} (in_memory {tc.in_memory}): data restarts "
                "at the next epoch")
            positions = [[max(p[0] for p in positions) + 1, 0]] * world
        if overrides and not ck.get("compact"):       # the scheduler's state holds the old learning rate
            sched_lr.base_lrs = [tc.lr] * len(opt.param_groups)
        reseed = tc.seed * 1000003 + rank + 7919 * step
        if rank < len(ck["rng"]):
            if not set_rng_state(ck["rng"][rank], gen, reseed):
                log(f"the checkpoint's noise generator is from another device type: reseeded on {device.type}")
        else:                 # more ranks than the checkpoint had: a rank of its own draws (not rank 0's copy)
            set_rng_state(ck["rng"][0], gen, reseed)
            gen.manual_seed(reseed)
        log(f"resumed {source}{' (compact: AdamW moments at zero)' if ck.get('compact') else ''} at step {step}")
    n_params = sum(p.numel() for p in model.parameters())
    if is_main and not quiet:
        u = unet_flops(m)
        log(f"stage {stage} | config {cfg.name} | {n_params / 1e6:.2f} M params "
            f"(UNet {u['params'] / 1e6:.2f} M, {u['total'] / 1e9:.3f} GFLOP/eval) | device {device} x{world}"
            + ("" if cuda else f" | {torch.get_num_threads()} threads"))

    # ---- data
    start = tuple(positions[rank]) if positions else (0, 0)
    if tc.in_memory:
        if tc.mask_edges:
            raise ValueError("train.in_memory does not compute edge masks: set train.mask_edges=false")
        t0 = time.time()
        loader = MemoryBatches(data, tok, tc.batch, m.resolution, m.context_length, m.face_tokens,
                               seed=tc.seed, rank=rank, world_size=world, start=start, hflip=tc.hflip,
                               device=device, p_face_other=tc.p_face_other,
                               caption_variants=tc.caption_variants)
        log(f"data: {len(loader)} training samples decoded into {device} memory in {time.time() - t0:.1f} s")
        loader = iter(loader)
    else:
        ds = ShardStream(data, tok, tc.batch, m.resolution, m.context_length, m.face_tokens, seed=tc.seed,
                         rank=rank, world_size=world, start=start, shuffle_buffer=tc.shuffle_buffer,
                         hflip=tc.hflip, mask_edges=tc.mask_edges, p_face_other=tc.p_face_other,
                         caption_variants=tc.caption_variants)
        loader = iter(make_loader(ds, workers, pin_memory=cuda))
    pos = list(start)

    # ---- the model that runs the training step
    train_model = model
    if world > 1:
        train_model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[local] if cuda else None)
    eager_model = train_model
    compiled = cuda and tc.compile and hasattr(torch, "compile")
    if compiled:
        train_model = torch.compile(train_model)
    empty_ids = torch.tensor(tok.encode("", m.context_length, m.face_tokens), device=device)
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if cuda else None

    if is_main:
        tok.save(os.path.join(out, "tokenizer.json"))
        with open(os.path.join(out, "config.json"), "w") as f:
            json.dump(to_dict(cfg), f, indent=1)
    metrics = open(os.path.join(out, "metrics.jsonl"), "a") if is_main else None
    face_gain = None
    if keep_best and (world > 1 or not (uses_face and val_every)):
        # (validation runs on rank 0 alone, and a checkpoint gathers from every rank)
        raise ValueError("--keep-best needs one process, a face stage and --val-every > 0")
    if is_main and uses_face and val_every:
        from .validate import GENERIC_CAPTION, FaceGain
        try:
            face_gain = FaceGain(data, tok, cfg, sched, n=val_samples, device=device)
            face_gain_generic = face_gain.with_caption(GENERIC_CAPTION)
            log(f"face gain: {face_gain.describe()}, and the same with {GENERIC_CAPTION!r}, every {val_every} steps")
        except (FileNotFoundError, ValueError) as e:
            log(f"warning: no face-gain validation ({e})")

    def validate():
        t0 = time.time()
        r = face_gain(ema)
        g = face_gain_generic(ema)
        r.update({f"generic_{k}": v for k, v in g.items()})
        by_t = " ".join(f"{k}:{100 * v:+.2f}%" for k, v in r["face_gain_by_t"].items())
        by_t_g = " ".join(f"{k}:{100 * v:+.2f}%" for k, v in g["face_gain_by_t"].items())
        log(f"val step {step} | held-out v-loss {r['val_loss_face']:.4f} with face, {r['val_loss_noface']:.4f} "
            f"without | face gain {100 * r['face_gain']:+.3f}% (by t {by_t}) | generic caption: "
            f"{g['val_loss_face']:.4f} / {g['val_loss_noface']:.4f}, face gain {100 * g['face_gain']:+.3f}% "
            f"(by t {by_t_g}) | {time.time() - t0:.1f} s")
        metrics.write(json.dumps({"step": step, "images": images_done, "stage": stage,
                                  "elapsed_s": seconds_done + time.time() - t_start, **r}) + "\n")
        metrics.flush()
        if keep_best and (best["score"] is None or score(r) > best["score"]):
            best["score"] = score(r)
            checkpoint(f"best held-out face gain so far, {100 * best['score']:+.3f}%", best_path)

    # keep_best's measure: the held-out face gain with the samples' own captions and with the generic one,
    # averaged (the generic caption is what most prompts look like)
    score = lambda r: (r["face_gain"] + r["generic_face_gain"]) / 2          # noqa: E731
    best, best_path = {"score": None}, os.path.join(out, "best.pt")

    def checkpoint(reason, path=ckpt_path):
        rngs = [rng_state(gen)]
        all_pos = [list(pos)]
        if world > 1:
            rngs, all_pos = [None] * world, [None] * world
            dist.all_gather_object(rngs, rng_state(gen))
            dist.all_gather_object(all_pos, list(pos))
        if not is_main:
            return
        secs = seconds_done + time.time() - t_start
        atomic_save({"format": CKPT_FORMAT, "config": to_dict(cfg), "tokenizer": tok.to_json(),
                     "stage": stage, "step": step, "model": model.state_dict(), "ema": ema.state_dict(),
                     "optimizer": opt.state_dict(), "scheduler": sched_lr.state_dict(), "rng": rngs,
                     "data": {"positions": all_pos, "world_size": world, "dir": os.path.abspath(data)},
                     "seconds": secs, "images": images_done, "sample_embeddings": sample_emb,
                     "rewarm_from": rewarm_from,
                     "segments": segments + [{**segment, "to_step": step, "to_images": images_done,
                                              "seconds": round(time.time() - t_start, 1)}],
                     "history": history,
                     "provenance": history + [{"stage": stage, "steps": step, "images": images_done,
                                               "seconds": round(secs, 1),
                                               "device": f"{device.type} x{world}" + (
                                                   f" ({torch.cuda.get_device_name(device)})" if cuda else "")}]},
                    path)
        log(f"checkpoint ({reason}) step {step} -> {path}")

    # this process's stretch of the run, for the model card's list of training segments
    resumed_from = None
    if ck is not None:
        resumed_from = "checkpoint"
        if ck.get("compact"):
            kinds = [k for k, on in (("EMA only", ck.get("ema_only")), ("int8", ck.get("ema_int8")),
                                     (f"weights of the bundle {ck.get('from_bundle')}", ck.get("from_bundle"))) if on]
            resumed_from = "relay state" + (f" ({', '.join(kinds)})" if kinds else "")
    segment = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t_start)), "from_step": step,
               "from_images": images_done, "ranks": world, "machine": machine_description(device),
               "resumed_from": resumed_from,
               **({"changed": list(overrides)} if overrides and ck is not None else {})}

    stopper = StopFlag()
    stopper.install()
    model.train()
    t_last, n_last, loss_acc, loss_n, id_acc = time.time(), 0, 0.0, 0, 0.0
    step0 = step
    try:
        while step < steps:
            b = next(loader)
            if sample_emb is None:
                sample_emb = b["embedding"][:3].cpu().clone()
            x0 = b["image"].to(device, non_blocking=True)
            if cuda:
                x0 = x0.contiguous(memory_format=torch.channels_last)
            ids = b["input_ids"].to(device, non_blocking=True)
            emb = b["embedding"].to(device, non_blocking=True)
            mask = b["mask"].to(device, non_blocking=True) if tc.mask_edges else None
            B = x0.shape[0]
            t = torch.randint(0, sched.T, (B,), generator=gen, device=device)
            noise = torch.randn(x0.shape, generator=gen, device=device)
            ids, face_mask = draw_conditioning(ids, empty_ids, gen, tc.p_text_drop, tc.p_face_drop, t,
                                               (tc.face_drop_high_from, tc.p_face_drop_high)
                                               if tc.p_face_drop_high >= 0 else None)
            x_t = sched.q_sample(x0, t, noise)
            target = sched.v_target(x0, t, noise)
            args = (x_t, t.float(), ids) + ((emb, face_mask) if uses_face else ())
            weight = None
            if tc.min_snr_gamma:
                weight = min_snr_weight(sched.coefs(t)[0].view(-1).double().pow(2), tc.min_snr_gamma).float()

            def forward_backward(net):
                opt.zero_grad(set_to_none=True)
                with (autocast() if autocast else contextlib.nullcontext()):
                    pred = net(*args)
                    loss = diffusion_loss(pred.float(), target, mask, weight)
                    l_id = None
                    if idnet is not None:
                        sa, sb = sched.coefs(t)
                        l_id = id_loss(idnet, sa * x_t - sb * pred.float(), x0, face_mask)
                total = loss if l_id is None else loss + tc.id_loss * l_id.float()
                total.backward()
                return loss, l_id

            if compiled and step == step0:
                # torch.compile fails on the first step if at all (forward and backward graphs); a GPU
                # segment is too rare to lose to a compiler error, so it then trains uncompiled
                try:
                    loss, l_id = forward_backward(train_model)
                except Exception as e:             # noqa: BLE001 (any compiler error)
                    log(f"warning: torch.compile failed ({type(e).__name__}: {str(e)[:300]}); training uncompiled")
                    train_model, compiled = eager_model, False
                    loss, l_id = forward_backward(train_model)
            else:
                loss, l_id = forward_backward(train_model)
            if tc.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
            opt.step()
            sched_lr.step()
            step += 1
            ema_update(ema, model, min(tc.ema_decay, (1 + step) / (10 + step)))
            pos = [b["epoch"], b["batch"] + 1]
            images_done += B * world
            loss_acc = loss_acc + loss.detach()
            if l_id is not None:
                id_acc = id_acc + l_id.detach()
            loss_n += 1

            # collective stop decision (signal or time budget), so every rank leaves at the same step
            stop = stopper.stop or (seconds is not None and time.time() - t_start >= seconds)
            if world > 1 and (step % log_every == 0 or step == steps):     # same steps on every rank
                f = torch.tensor([1.0 if stop else 0.0], device=device)
                dist.all_reduce(f, op=dist.ReduceOp.MAX)
                stop = f.item() > 0
            elif world > 1:
                stop = False
            if step % log_every == 0 or step == steps:
                now = time.time()
                ips = (step - step0 - n_last) * B * world / max(now - t_last, 1e-9)
                eta = (steps - step) * B * world / max(ips, 1e-9)
                if seconds:
                    eta = min(eta, max(0.0, seconds - (now - t_start)))
                lval = float(loss_acc) / max(loss_n, 1)
                idval = {"id_loss": float(id_acc) / max(loss_n, 1)} if idnet is not None else {}
                log(f"step {step}/{steps} | loss {lval:.4f}"
                    + (f" | id loss {idval['id_loss']:.4f}" if idval else "")
                    + f" | lr {sched_lr.get_last_lr()[0]:.2e} | {ips:.1f} img/s | ETA {eta / 60:.1f} min")
                if metrics:
                    metrics.write(json.dumps({"step": step, "loss": lval, **idval, "lr": sched_lr.get_last_lr()[0],
                                              "img_per_s": ips, "images": images_done,
                                              "elapsed_s": seconds_done + now - t_start, "stage": stage}) + "\n")
                    metrics.flush()
                t_last, n_last, loss_acc, loss_n, id_acc = now, step - step0, 0.0, 0, 0.0
            if ckpt_every and step % ckpt_every == 0 and step < steps and not stop:
                checkpoint("every")
            if face_gain is not None and step % val_every == 0:
                validate()
            if is_main and sample_every and step % sample_every == 0:
                sample_grid(ema, tok, cfg, sched, sample_emb if uses_face else None,
                            os.path.join(out, f"samples-{step:07d}.png"))
            if stop:
                log("stopping: " + ("signal" if stopper.stop else "time budget"))
                break
        if face_gain is not None and step % val_every != 0:
            validate()
        if is_main and sample_every and step % sample_every != 0:
            sample_grid(ema, tok, cfg, sched, sample_emb if uses_face else None,
                        os.path.join(out, f"samples-{step:07d}.png"))
        checkpoint("final" if step >= steps else "stop")
    finally:
        stopper.uninstall()
        if metrics:
            metrics.close()
        # join the DataLoader workers now rather than from a finaliser during teardown
        shutdown = getattr(loader, "_shutdown_workers", None)
        if shutdown is not None:
            shutdown()
    if world > 1:
        # the DDP reducer holds the process group: free it while the group is alive, then leave together
        # (a rank once hung in teardown after destroy_process_group, pytorch/pytorch#75097)
        del train_model
        dist.barrier()
        dist.destroy_process_group()
        if exit_when_done:
            # everything is on disk: leave before this frame's locals (model, loader, gloo tensors) are
            # freed and before the interpreter's teardown; either has hung a rank after training finished
            # (seen in CI: once in teardown, once with no Python frame left but train()'s; pytorch#75097)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
    return {"step": step, "ckpt": ckpt_path}
