"""Training throughput of a config on this machine: img/s, the model's GFLOP/s and, measured in the
same run, the GEMM peak (torch.mm 2048x2048, fp32 on CPU, bf16 on CUDA) with their ratio: the share
of the machine a training step uses. One step = forward + backward + AdamW; synthetic data."""
import inspect
import time

import torch
import torch.nn.functional as F

from .config import apply_overrides, get_config
from .flops import unet_flops, count_flops
from .model import Face0Model
from .train import setup_distributed, make_optimizer

H100_BF16_DENSE = 989e12


def gemm_peak(device, n=2048, reps=None):
    """FLOP/s of torch.mm on n x n matrices (the machine's practical peak for dense maths)."""
    cuda = device.type == "cuda"
    dtype = torch.bfloat16 if cuda else torch.float32
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    reps = reps or (50 if cuda else 5)
    torch.mm(a, b)
    if cuda:
        torch.cuda.synchronize()
    t0 = time.time()
    for _ in range(reps):
        torch.mm(a, b)
    if cuda:
        torch.cuda.synchronize()
    return 2 * n ** 3 * reps / (time.time() - t0)


def bench(config="default", batch=None, steps=5, overrides=None):
    _, _, _, device = setup_distributed()
    cfg = apply_overrides(get_config(config), overrides)
    m = cfg.model
    m.vocab_size = 1000
    cuda = device.type == "cuda"
    B = batch or (256 if cuda else 16)
    model = Face0Model(m).to(device)
    if cuda:
        model.to(memory_format=torch.channels_last)
    opt = make_optimizer(model, cfg.train, device)
    fwd = torch.compile(model) if cuda and cfg.train.compile and hasattr(torch, "compile") else model
    x = torch.randn(B, m.channels, m.resolution, m.resolution, device=device)
    if cuda:
        x = x.contiguous(memory_format=torch.channels_last)
    t = torch.randint(0, 1000, (B,), device=device).float()
    ids = torch.randint(0, m.vocab_size, (B, m.context_length), device=device)
    emb = F.normalize(torch.randn(B, m.embedding_dim, device=device), dim=-1)
    mask = torch.rand(B, device=device) > 0.1
    target = torch.randn_like(x)

    def step():
        if cuda:
            with torch.autocast("cuda", dtype=torch.bfloat16):
                pred = fwd(x, t, ids, emb, mask)
        else:
            pred = fwd(x, t, ids, emb, mask)
        loss = F.mse_loss(pred.float(), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    warm = 3 if cuda else 1
    for _ in range(warm):
        step()
    if cuda:
        torch.cuda.synchronize()
    t0 = time.time()
    for _ in range(steps):
        step()
    if cuda:
        torch.cuda.synchronize()
    dt = time.time() - t0
    ips = steps * B / dt
    u = unet_flops(m)
    te = count_flops(Face0Model(m).text_encoder,
                     torch.zeros(1, m.context_length, dtype=torch.long))["total"]
    flops_img = 3 * (u["total"] + te)                         # forward + backward ~ 3x forward
    line = (f"bench {config}: batch {B}, {steps} steps, {ips:.1f} img/s on {device}"
            f" ({torch.get_num_threads()} threads)" if not cuda else
            f"bench {config}: batch {B}, {steps} steps, {ips:.1f} img/s on {torch.cuda.get_device_name(device)}")
    peak = gemm_peak(device)
    line += (f" | {flops_img * ips / 1e9:.1f} GFLOP/s model | GEMM peak {peak / 1e9:.0f} GFLOP/s"
             f" ({'bf16' if cuda else 'fp32'} mm 2048) | {100 * flops_img * ips / peak:.0f}% of peak")
    if cuda:
        line += f" | MFU {100 * flops_img * ips / H100_BF16_DENSE:.2f}% of 989 TFLOP/s bf16 dense"
    print(line, flush=True)
    return {"img_per_s": ips, "model_flops_per_s": flops_img * ips, "gemm_peak_flops_per_s": peak}
