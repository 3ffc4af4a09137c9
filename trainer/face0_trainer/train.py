"""Training loop: stages `base` (context = text encoder output) and `face0` (init from a base
checkpoint, face projector added, everything trained jointly with face/text dropout).

Loss: MSE on v (schedule.py). AdamW, linear warm-up, grad clipping, EMA. bf16 autocast,
channels_last, fused AdamW and torch.compile on CUDA when the torch version has them; fp32 on CPU.
DDP under torchrun (gloo on CPU, nccl on CUDA); only rank 0 writes.

Exact resume: the checkpoint holds step, model, optimiser, EMA, LR scheduler, every RNG state
(python, numpy, torch, cuda, and the generator that draws t/noise/dropout) and each rank's data
position (epoch, next batch); the data stream is a deterministic function of (seed, epoch, rank)
(data.py), so N steps + resume N steps gives the same parameters as 2N steps.
"""
import copy
import inspect
import json
import math
import os
import random
import signal
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from .config import Config, get_config, to_dict, from_dict
from .data import ShardStream, make_loader, iter_captions
from .flops import unet_flops
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


def rng_state(gen):
    s = {"python": random.getstate(), "numpy": np.random.get_state(),
         "torch": torch.get_rng_state(), "gen": gen.get_state()}
    if torch.cuda.is_available():
        s["cuda"] = torch.cuda.get_rng_state_all()
    return s


def set_rng_state(s, gen):
    random.setstate(s["python"])
    np.random.set_state(s["numpy"])
    torch.set_rng_state(s["torch"])
    gen.set_state(s["gen"])
    if torch.cuda.is_available() and "cuda" in s:
        torch.cuda.set_rng_state_all(s["cuda"])


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


def load_checkpoint(path):
    kw = {"weights_only": False} if "weights_only" in inspect.signature(torch.load).parameters else {}
    ck = torch.load(path, map_location="cpu", **kw)     # our own file: holds RNG states, config dicts
    if ck.get("format") != CKPT_FORMAT:
        raise ValueError(f"{path}: not a {CKPT_FORMAT} checkpoint")
    return ck


def model_from_checkpoint(ck, ema=True):
    cfg = from_dict(ck["config"])
    model = Face0Model(cfg.model)
    model.load_state_dict(ck["ema"] if ema else ck["model"])
    return model, cfg, Tokenizer.from_json(ck["tokenizer"])


def draw_conditioning(ids, empty_ids, gen, p_text_drop, p_face_drop):
    """Independent dropout of text and face (Face0): a dropped text becomes the empty caption's ids;
    a dropped face is face_mask=False (the context keeps the text encoder's output there)."""
    u = torch.rand(ids.shape[0], 2, generator=gen, device=ids.device)
    ids = torch.where((u[:, 0] < p_text_drop)[:, None], empty_ids[None], ids)
    return ids, u[:, 1] >= p_face_drop


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

def lr_factor(step, warmup, steps, decay="cosine", floor=0.1):
    """Multiplier of the base learning rate: linear warm-up, then constant or a cosine from 1 down to
    `floor` at `steps` (the stage's last step; a time-budgeted run that stops early keeps a higher lr)."""
    w = min(1.0, (step + 1) / warmup)
    if decay == "constant" or steps <= warmup:
        return w
    if decay != "cosine":
        raise ValueError(f"unknown lr_decay {decay!r} (expected cosine or constant)")
    p = min(1.0, max(0.0, (step - warmup) / (steps - warmup)))
    return w * (floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * p)))


def masked_mse(pred, target, mask):
    """Mean squared error over the pixels where mask [B,1,H,W] is 1 (all pixels: plain MSE)."""
    se = (pred - target).pow(2) * mask
    return se.sum() / (mask.sum() * pred.shape[1]).clamp(min=1.0)


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
          lr=None, quiet=False, mask_edges=None):
    rank, world, local, device = setup_distributed()
    is_main = rank == 0
    log = (lambda *a: print(*a, flush=True)) if (is_main and not quiet) else (lambda *a: None)
    os.makedirs(out, exist_ok=True)
    ckpt_path = os.path.join(out, "ckpt.pt")
    t_start = time.time()

    # ---- config, tokenizer, model, provenance
    ck = None
    if resume:
        if not os.path.exists(ckpt_path):
            raise FileNotFoundError(f"--resume: no checkpoint at {ckpt_path}")
        ck = load_checkpoint(ckpt_path)
        cfg, tok, stage = from_dict(ck["config"]), Tokenizer.from_json(ck["tokenizer"]), ck["stage"]
        history = ck["history"]
    elif stage == "face0":
        if not init:
            raise ValueError("stage face0 needs --init BASE_CKPT")
        base = load_checkpoint(init)
        cfg, tok = from_dict(base["config"]), Tokenizer.from_json(base["tokenizer"])
        preset = get_config(config).train
        cfg.train = preset
        history = base["provenance"]
    elif stage == "base":
        cfg = get_config(config)
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
    model.face_projector.requires_grad_(stage == "face0")
    model.to(device)
    cuda = device.type == "cuda"
    if cuda:
        model.to(memory_format=torch.channels_last)
    ema = copy.deepcopy(model).float().requires_grad_(False).eval()
    opt = make_optimizer(model, tc, device)
    warm = max(1, tc.warmup)
    sched_lr = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, warm, steps, tc.lr_decay, tc.lr_floor))
    sched = Schedule(tc.timesteps)
    gen = torch.Generator(device=device)
    gen.manual_seed(tc.seed * 1000003 + rank)

    step, positions, seconds_done, images_done = 0, None, 0.0, 0
    sample_emb = None
    if ck is not None:
        model.load_state_dict(ck["model"])
        ema.load_state_dict(ck["ema"])
        opt.load_state_dict(ck["optimizer"])
        sched_lr.load_state_dict(ck["scheduler"])
        step, seconds_done, images_done = ck["step"], ck["seconds"], ck["images"]
        positions = ck["data"]["positions"]
        sample_emb = ck.get("sample_embeddings")
        if len(positions) != world:
            log(f"warning: checkpoint from {len(positions)} ranks, now {world}: data restarts at the next epoch")
            positions = [[max(p[0] for p in positions) + 1, 0]] * world
        set_rng_state(ck["rng"][rank] if rank < len(ck["rng"]) else ck["rng"][0], gen)
        log(f"resumed {ckpt_path} at step {step}")
    n_params = sum(p.numel() for p in model.parameters())
    if is_main and not quiet:
        u = unet_flops(m)
        log(f"stage {stage} | config {cfg.name} | {n_params / 1e6:.2f} M params "
            f"(UNet {u['params'] / 1e6:.2f} M, {u['total'] / 1e9:.3f} GFLOP/eval) | device {device} x{world}"
            + ("" if cuda else f" | {torch.get_num_threads()} threads"))

    # ---- data
    start = tuple(positions[rank]) if positions else (0, 0)
    ds = ShardStream(data, tok, tc.batch, m.resolution, m.context_length, m.face_tokens, seed=tc.seed,
                     rank=rank, world_size=world, start=start, shuffle_buffer=tc.shuffle_buffer,
                     hflip=tc.hflip, mask_edges=tc.mask_edges)
    loader = iter(make_loader(ds, workers, pin_memory=cuda))
    pos = list(start)

    # ---- the model that runs the training step
    train_model = model
    if world > 1:
        train_model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[local] if cuda else None)
    if cuda and tc.compile and hasattr(torch, "compile"):
        train_model = torch.compile(train_model)
    empty_ids = torch.tensor(tok.encode("", m.context_length, m.face_tokens), device=device)
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if cuda else None

    if is_main:
        tok.save(os.path.join(out, "tokenizer.json"))
        with open(os.path.join(out, "config.json"), "w") as f:
            json.dump(to_dict(cfg), f, indent=1)
    metrics = open(os.path.join(out, "metrics.jsonl"), "a") if is_main else None

    def checkpoint(reason):
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
                     "history": history,
                     "provenance": history + [{"stage": stage, "steps": step, "images": images_done,
                                               "seconds": round(secs, 1),
                                               "device": f"{device.type} x{world}" + (
                                                   f" ({torch.cuda.get_device_name(device)})" if cuda else "")}]},
                    ckpt_path)
        log(f"checkpoint ({reason}) step {step} -> {ckpt_path}")

    stopper = StopFlag()
    stopper.install()
    model.train()
    t_last, n_last, loss_acc, loss_n = time.time(), 0, 0.0, 0
    step0 = step
    try:
        while step < steps:
            b = next(loader)
            if sample_emb is None:
                sample_emb = b["embedding"][:3].clone()
            x0 = b["image"].to(device, non_blocking=True)
            if cuda:
                x0 = x0.contiguous(memory_format=torch.channels_last)
            ids = b["input_ids"].to(device, non_blocking=True)
            emb = b["embedding"].to(device, non_blocking=True)
            mask = b["mask"].to(device, non_blocking=True) if tc.mask_edges else None
            B = x0.shape[0]
            t = torch.randint(0, sched.T, (B,), generator=gen, device=device)
            noise = torch.randn(x0.shape, generator=gen, device=device)
            ids, face_mask = draw_conditioning(ids, empty_ids, gen, tc.p_text_drop, tc.p_face_drop)
            x_t = sched.q_sample(x0, t, noise)
            target = sched.v_target(x0, t, noise)
            args = (x_t, t.float(), ids) + ((emb, face_mask) if stage == "face0" else ())
            if autocast:
                with autocast():
                    pred = train_model(*args)
            else:
                pred = train_model(*args)
            loss = masked_mse(pred.float(), target, mask) if mask is not None else F.mse_loss(pred.float(), target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if tc.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
            opt.step()
            sched_lr.step()
            step += 1
            ema_update(ema, model, min(tc.ema_decay, (1 + step) / (10 + step)))
            pos = [b["epoch"], b["batch"] + 1]
            images_done += B * world
            loss_acc = loss_acc + loss.detach()
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
                log(f"step {step}/{steps} | loss {lval:.4f} | lr {sched_lr.get_last_lr()[0]:.2e} | "
                    f"{ips:.1f} img/s | ETA {eta / 60:.1f} min")
                if metrics:
                    metrics.write(json.dumps({"step": step, "loss": lval, "lr": sched_lr.get_last_lr()[0],
                                              "img_per_s": ips, "images": images_done,
                                              "elapsed_s": seconds_done + now - t_start, "stage": stage}) + "\n")
                    metrics.flush()
                t_last, n_last, loss_acc, loss_n = now, step - step0, 0.0, 0
            if ckpt_every and step % ckpt_every == 0 and step < steps and not stop:
                checkpoint("every")
            if is_main and sample_every and step % sample_every == 0:
                sample_grid(ema, tok, cfg, sched, sample_emb if stage == "face0" else None,
                            os.path.join(out, f"samples-{step:07d}.png"))
            if stop:
                log("stopping: " + ("signal" if stopper.stop else "time budget"))
                break
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
        dist.barrier()
        dist.destroy_process_group()
    return {"step": step, "ckpt": ckpt_path}
