"""FLOP counter: forward hooks on Conv2d, Linear and Attention; multiply-add = 2 FLOPs.
Norms, activations, softmax and elementwise ops are not counted (they are a few percent)."""
import torch
import torch.nn as nn

from .model import Attention, UNet, TextEncoder, FaceProjector


def count_flops(module: nn.Module, *inputs) -> dict:
    totals = {"conv": 0, "linear": 0, "attention": 0}

    def conv_hook(m, inp, out):
        kh, kw = m.kernel_size
        totals["conv"] += 2 * out.numel() * (m.in_channels // m.groups) * kh * kw

    def linear_hook(m, inp, out):
        totals["linear"] += 2 * out.numel() * m.in_features

    def attn_hook(m, inp, out):
        q, k, v = inp
        B, h, N, d = q.shape
        totals["attention"] += 2 * B * h * N * k.shape[2] * d * 2   # q k^T and w v

    handles = []
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
        elif isinstance(m, Attention):
            handles.append(m.register_forward_hook(attn_hook))
    was_training = module.training
    module.eval()
    with torch.no_grad():
        module(*inputs)
    module.train(was_training)
    for h in handles:
        h.remove()
    totals["total"] = sum(totals.values())
    return totals


def unet_flops(cfg) -> dict:
    """FLOPs of one UNet evaluation at batch 1."""
    unet = UNet(cfg)
    x = torch.zeros(1, cfg.channels, cfg.resolution, cfg.resolution)
    ctx = torch.zeros(1, cfg.context_length, cfg.text_width)
    r = count_flops(unet, x, torch.zeros(1), ctx)
    r["params"] = sum(p.numel() for p in unet.parameters())
    return r


def report(cfg) -> str:
    u = unet_flops(cfg)
    te = TextEncoder(cfg) if cfg.vocab_size else None
    lines = [f"UNet {cfg.resolution}x{cfg.resolution}: {u['params'] / 1e6:.2f} M params, "
             f"{u['total'] / 1e9:.3f} GFLOP per evaluation (batch 1) "
             f"[conv {u['conv'] / 1e9:.3f}, linear {u['linear'] / 1e9:.3f}, attention {u['attention'] / 1e9:.3f}]"]
    if te is not None:
        t = count_flops(te, torch.zeros(1, cfg.context_length, dtype=torch.long))
        lines.append(f"text encoder: {t['total'] / 1e9:.4f} GFLOP per prompt")
    fp = FaceProjector(cfg)
    f = count_flops(fp, torch.zeros(1, cfg.embedding_dim))
    lines.append(f"face projector: {f['total'] / 1e6:.3f} MFLOP per embedding")
    return "\n".join(lines)
