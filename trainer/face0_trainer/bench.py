"""Training throughput of a config on this machine: img/s (and model-FLOP utilisation on CUDA,
against 989 TFLOP/s, the H100's dense bf16 peak). One step = forward + backward + AdamW."""
import inspect
import time

import torch
import torch.nn.functional as F

from .config import get_config
from .flops import unet_flops, count_flops
from .model import Face0Model
from .train import setup_distributed, make_optimizer

H100_BF16_DENSE = 989e12


def bench(config="default", batch=None, steps=5):
    _, _, _, device = setup_distributed()
    cfg = get_config(config)
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
    line += f" | {flops_img * ips / 1e9:.1f} GFLOP/s model"
    if cuda:
        line += f" | MFU {100 * flops_img * ips / H100_BF16_DENSE:.2f}% of 989 TFLOP/s bf16 dense"
    print(line, flush=True)
    return ips
