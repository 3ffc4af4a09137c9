"""Noise schedule and v-prediction maths (CONTRACTS.md section 4, 'Schedule semantics').

Why v-prediction with the cosine schedule (T=1000):
the cosine schedule (Nichol & Dhariwal 2021) was designed for 64x64 images, where the linear
schedule destroys information too fast; but it reaches very low SNR at the high-noise end, where
an eps-predicting network must recover x0 = (x_t - sqrt(1-a)*eps)/sqrt(a), dividing by
sqrt(a) -> 0 and blowing up any error. v = sqrt(a)*eps - sqrt(1-a)*x0 (Salimans & Ho 2022) has
unit variance at every t and is well-conditioned at both ends: at high noise it is ~ -x0 and at
low noise ~ eps, so x0 and eps are recovered without a division. The betas are exported
explicitly in the bundle so the TypeScript sampler never re-derives them.
"""
import math

import numpy as np
import torch


def cosine_betas(T: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
    """Betas of the cosine schedule, float64 [T]: beta_t = 1 - abar(t+1)/abar(t), clipped."""
    f = lambda t: math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2
    return np.array([min(1 - f(t + 1) / f(t), max_beta) for t in range(T)], dtype=np.float64)


def alphas_cumprod(betas: np.ndarray) -> np.ndarray:
    """alphas_cumprod[t] = prod_{s<=t} (1 - betas[s]) (float64)."""
    return np.cumprod(1.0 - np.asarray(betas, dtype=np.float64))


class Schedule:
    def __init__(self, T: int = 1000):
        self.T = T
        self.betas = cosine_betas(T)
        self.alphas_cumprod = alphas_cumprod(self.betas)
        self._ac = torch.tensor(self.alphas_cumprod, dtype=torch.float64)

    def coefs(self, t: torch.Tensor, dtype=torch.float32):
        """sqrt(abar_t), sqrt(1-abar_t) for integer t [B], shaped [B,1,1,1]."""
        if self._ac.device != t.device:
            self._ac = self._ac.to(t.device)
        a = self._ac[t.long()]
        return a.sqrt().to(dtype).view(-1, 1, 1, 1), (1 - a).sqrt().to(dtype).view(-1, 1, 1, 1)

    def q_sample(self, x0, t, noise):
        sa, sb = self.coefs(t, x0.dtype)
        return sa * x0 + sb * noise

    def v_target(self, x0, t, noise):
        sa, sb = self.coefs(t, x0.dtype)
        return sa * noise - sb * x0


def v_to_x0_eps(x_t, v, a):
    """a = abar_t (scalar or broadcastable): x0 = sqrt(a) x_t - sqrt(1-a) v; eps = sqrt(1-a) x_t + sqrt(a) v."""
    sa, sb = a ** 0.5, (1 - a) ** 0.5
    return sa * x_t - sb * v, sb * x_t + sa * v


def ddim_timesteps(n: int, T: int = 1000):
    """Evenly spaced, descending: t_i = round((T-1) * (n-1-i) / (n-1)), i = 0..n-1 (both ends included).
    Rounding is half away from zero (only matters when (T-1)*(n-1-i)/(n-1) ends in .5)."""
    if n == 1:
        return [T - 1]
    return [int(math.floor((T - 1) * (n - 1 - i) / (n - 1) + 0.5)) for i in range(n)]


def guide(pred_uu, pred_tu, pred_tf, text_scale: float, face_scale: float):
    """CONTRACTS: p = p(0,0) + s_text (p(text,0) - p(0,0)) + s_face (p(text,face) - p(text,0))."""
    out = pred_uu + text_scale * (pred_tu - pred_uu)
    if pred_tf is not None and face_scale != 0:
        out = out + face_scale * (pred_tf - pred_tu)
    return out


@torch.no_grad()
def ddim_sample(unet, x_T, ctx_uu, ctx_tu, ctx_tf, alphas_cumprod_np, n_steps: int,
                text_scale: float, face_scale: float):
    """Deterministic DDIM (eta=0) on a v-prediction UNet with Face0 guidance.

    Step i (t = t_i, t' = t_{i+1}, abar' = 1 after the last step):
        v = guide(...); x0 = sqrt(a) x - sqrt(1-a) v; eps = sqrt(1-a) x + sqrt(a) v;
        x <- sqrt(a') x0 + sqrt(1-a') eps.   No clipping of x0. Returns the final x (= x0 of t=0).
    ctx_tf may be None (no face: two evaluations per step). Works in the dtype of x_T.
    """
    ac = torch.tensor(alphas_cumprod_np, dtype=torch.float64)
    ts = ddim_timesteps(n_steps, len(alphas_cumprod_np))
    B = x_T.shape[0]
    ctxs = [ctx_uu, ctx_tu] + ([ctx_tf] if ctx_tf is not None and face_scale != 0 else [])
    ctx = torch.cat(ctxs, 0)
    x = x_T
    for i, t in enumerate(ts):
        a = ac[t].item()
        a_prev = ac[ts[i + 1]].item() if i + 1 < len(ts) else 1.0
        tt = torch.full((B * len(ctxs),), float(t), dtype=x.dtype, device=x.device)
        out = unet(torch.cat([x] * len(ctxs), 0), tt, ctx).chunk(len(ctxs), 0)
        v = guide(out[0], out[1], out[2] if len(out) > 2 else None, text_scale, face_scale)
        x0, eps = v_to_x0_eps(x, v, a)
        x = a_prev ** 0.5 * x0 + (1 - a_prev) ** 0.5 * eps
    return x
