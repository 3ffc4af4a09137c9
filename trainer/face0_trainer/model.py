"""Text encoder, face projector and UNet (v-prediction), plus the Face0 splice.

Every op exports to ONNX opset 17 with torch 1.13 and 2.x. Attention goes through the
`Attention` module (explicit matmul + softmax, or scaled_dot_product_attention when training on
torch 2.x) so that flops.py can count it with a forward hook.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import ModelConfig

_HAS_SDPA = hasattr(F, "scaled_dot_product_attention")


class Attention(nn.Module):
    """softmax(q k^T / sqrt(d)) v on [B, heads, N, d] tensors (no parameters)."""

    def forward(self, q, k, v):
        if _HAS_SDPA and self.training and not torch.jit.is_tracing():
            return F.scaled_dot_product_attention(q, k, v)
        w = torch.softmax((q * (q.shape[-1] ** -0.5)) @ k.transpose(-1, -2), dim=-1)
        return w @ v


class MultiHeadAttention(nn.Module):
    def __init__(self, dim, heads, ctx_dim=None):
        super().__init__()
        self.heads = heads
        ctx_dim = ctx_dim or dim
        self.q = nn.Linear(dim, dim, bias=False)
        self.kv = nn.Linear(ctx_dim, 2 * dim, bias=False)
        self.out = nn.Linear(dim, dim)
        self.attn = Attention()

    def forward(self, x, ctx=None):
        ctx = x if ctx is None else ctx
        B, N, C = x.shape
        h = self.heads
        q = self.q(x).reshape(B, N, h, C // h).transpose(1, 2)
        k, v = self.kv(ctx).reshape(B, ctx.shape[1], 2, h, C // h).permute(2, 0, 3, 1, 4).unbind(0)
        y = self.attn(q, k, v).transpose(1, 2).reshape(B, N, C)
        return self.out(y)


class FeedForward(nn.Sequential):
    def __init__(self, dim, mult):
        super().__init__(nn.Linear(dim, dim * mult), nn.GELU(), nn.Linear(dim * mult, dim))


# ----------------------------------------------------------------------------- text encoder

class TextBlock(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.ln1, self.attn = nn.LayerNorm(dim), MultiHeadAttention(dim, heads)
        self.ln2, self.ff = nn.LayerNorm(dim), FeedForward(dim, 4)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.ff(self.ln2(x))


class TextEncoder(nn.Module):
    """input_ids int64 [B, L] -> hidden float32 [B, L, D]. Bidirectional, no mask (static L)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        D = cfg.text_width
        self.tok = nn.Embedding(cfg.vocab_size, D)
        self.pos = nn.Parameter(torch.zeros(1, cfg.context_length, D))
        nn.init.normal_(self.tok.weight, std=0.02)
        nn.init.normal_(self.pos, std=0.02)
        self.blocks = nn.ModuleList([TextBlock(D, cfg.text_heads) for _ in range(cfg.text_layers)])
        self.ln = nn.LayerNorm(D)

    def forward(self, input_ids):
        x = self.tok(input_ids) + self.pos
        for b in self.blocks:
            x = b(x)
        return self.ln(x)


# ----------------------------------------------------------------------------- face projector

class FaceProjector(nn.Module):
    """embedding float32 [B, E] -> tokens float32 [B, K, D] (LayerNorm matches text-token scale)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.K, self.D = cfg.face_tokens, cfg.text_width
        self.mlp = nn.Sequential(nn.Linear(cfg.embedding_dim, cfg.proj_hidden), nn.GELU(),
                                 nn.Linear(cfg.proj_hidden, self.K * self.D))
        self.ln = nn.LayerNorm(self.D)
        self.whiten = cfg.whiten_embedding
        if self.whiten:                     # set from the data by set_whitening (ModelConfig.whiten_embedding)
            self.register_buffer("emb_mean", torch.zeros(cfg.embedding_dim))
            self.register_buffer("emb_whiten", torch.eye(cfg.embedding_dim))

    def set_whitening(self, mean, cholesky):
        """mean [E], cholesky L [E,E] of the training embeddings: the input becomes L^-1 (e - mean)."""
        L = torch.as_tensor(cholesky, dtype=torch.float64)
        self.emb_mean.copy_(torch.as_tensor(mean, dtype=torch.float64).float())
        self.emb_whiten.copy_(torch.linalg.inv(L).float())

    def forward(self, embedding):
        if self.whiten:
            embedding = (embedding - self.emb_mean) @ self.emb_whiten.t()
        return self.ln(self.mlp(embedding).reshape(-1, self.K, self.D))


def splice(context, face_tokens, face_mask=None):
    """Face0: the last K context positions are replaced by the face tokens.
    face_mask [B] bool (optional): where False, the context is left unchanged (face dropped)."""
    K = face_tokens.shape[1]
    with_face = torch.cat([context[:, :-K], face_tokens.to(context.dtype)], dim=1)
    if face_mask is None:
        return with_face
    return torch.where(face_mask.view(-1, 1, 1), with_face, context)


# ----------------------------------------------------------------------------- UNet

def groups(ch):
    """GroupNorm groups: the largest of 32, 16, 8, ... that divides ch with >= 4 channels a group."""
    return next(g for g in (32, 16, 8, 4, 2, 1) if ch % g == 0 and ch // g >= 4 or g == 1)


def timestep_embedding(t, dim):
    """Sinusoidal embedding of a float timestep t [B] -> [B, dim]."""
    half = dim // 2
    dtype = t.dtype if t.is_floating_point() else torch.float32
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=dtype, device=t.device) / half)
    args = t.to(dtype)[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, temb, dropout):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups(cin), cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.temb = nn.Linear(temb, 2 * cout)           # scale and shift of norm2
        self.norm2 = nn.GroupNorm(groups(cout), cout)
        self.drop = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.temb(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.drop(F.silu(h)))
        return self.skip(x) + h


class SpatialTransformer(nn.Module):
    """GroupNorm -> tokens -> self-attention, cross-attention on the context, feed-forward -> back."""

    def __init__(self, ch, ctx_dim, head_dim, ff_mult):
        super().__init__()
        heads = max(1, ch // head_dim)
        while ch % heads:
            heads -= 1
        self.norm = nn.GroupNorm(groups(ch), ch)
        self.proj_in = nn.Linear(ch, ch)
        self.ln1, self.self_attn = nn.LayerNorm(ch), MultiHeadAttention(ch, heads)
        self.ln2, self.cross_attn = nn.LayerNorm(ch), MultiHeadAttention(ch, heads, ctx_dim)
        self.ln3, self.ff = nn.LayerNorm(ch), FeedForward(ch, ff_mult)
        self.proj_out = nn.Linear(ch, ch)

    def forward(self, x, ctx):
        B, C, H, W = x.shape
        h = self.proj_in(self.norm(x).reshape(B, C, H * W).transpose(1, 2))
        h = h + self.self_attn(self.ln1(h))
        h = h + self.cross_attn(self.ln2(h), ctx)
        h = h + self.ff(self.ln3(h))
        return x + self.proj_out(h).transpose(1, 2).reshape(B, C, H, W)


class CrossAttentionBlock(nn.Module):
    """GroupNorm -> tokens -> cross-attention on the context -> back, with no self-attention or
    feed-forward: a cheap way for the context (the face tokens) to reach a finer feature map than the
    transformers do (ModelConfig.xattn_resolutions). The output layer starts at zero, so adding the
    block to a trained model leaves its function unchanged (`face0_trainer grow`)."""

    def __init__(self, ch, ctx_dim, head_dim):
        super().__init__()
        heads = max(1, ch // head_dim)
        while ch % heads:
            heads -= 1
        self.norm = nn.GroupNorm(groups(ch), ch)
        self.cross_attn = MultiHeadAttention(ch, heads, ctx_dim)
        nn.init.zeros_(self.cross_attn.out.weight)
        nn.init.zeros_(self.cross_attn.out.bias)

    def forward(self, x, ctx):
        B, C, H, W = x.shape
        h = self.cross_attn(self.norm(x).reshape(B, C, H * W).transpose(1, 2), ctx)
        return x + h.transpose(1, 2).reshape(B, C, H, W)


class Level(nn.Module):
    """One res-block, optionally followed by a spatial transformer and/or a cross-attention block."""

    def __init__(self, cin, cout, temb, cfg: ModelConfig, attn: bool, xattn: bool = False):
        super().__init__()
        self.res = ResBlock(cin, cout, temb, cfg.dropout)
        self.attn = SpatialTransformer(cout, cfg.text_width, cfg.head_dim, cfg.ff_mult) if attn else None
        self.xattn = CrossAttentionBlock(cout, cfg.text_width, cfg.head_dim) if xattn else None

    def forward(self, x, emb, ctx):
        x = self.res(x, emb)
        if self.attn is not None:
            x = self.attn(x, ctx)
        return self.xattn(x, ctx) if self.xattn is not None else x


class UNet(nn.Module):
    """sample [B,C,H,W], timestep float [B], context [B,L,D] -> v prediction [B,C,H,W].

    Stem: 4x4 stride-2 conv (H -> H/2); head: 3x3 conv to 4C channels + pixel shuffle (H/2 -> H).
    Nothing runs at full resolution, which is what keeps a 64x64 evaluation under ~3 GFLOP.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        C0, C = cfg.unet_base, cfg.channels
        temb = 4 * C0
        self.base = C0
        self.time_mlp = nn.Sequential(nn.Linear(C0, temb), nn.SiLU(), nn.Linear(temb, temb))
        # global context path (ModelConfig.global_context): flattened rather than mean-pooled, so the
        # face positions (always the last K) stay apart from the text; zero-initialised output, so
        # the path starts as a no-op
        self.ctx_mlp = None
        if cfg.global_context:
            self.ctx_mlp = nn.Sequential(nn.Linear(cfg.context_length * cfg.text_width, temb), nn.SiLU(),
                                         nn.Linear(temb, temb))
            nn.init.zeros_(self.ctx_mlp[2].weight)
            nn.init.zeros_(self.ctx_mlp[2].bias)
        self.stem = nn.Conv2d(C, C0, 4, stride=2, padding=1)
        res = cfg.resolution // 2
        chans = [C0 * m for m in cfg.unet_mults]
        self.down = nn.ModuleList()
        skips, ch = [C0], C0
        for i, cout in enumerate(chans):
            for _ in range(cfg.unet_blocks):
                self.down.append(Level(ch, cout, temb, cfg, res in cfg.attn_resolutions, res in cfg.xattn_resolutions))
                ch = cout
                skips.append(ch)
            if i < len(chans) - 1:
                self.down.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
                skips.append(ch)
                res //= 2
        self.mid1 = Level(ch, ch, temb, cfg, True)
        self.mid2 = ResBlock(ch, ch, temb, cfg.dropout)
        self.up = nn.ModuleList()
        for i, cout in reversed(list(enumerate(chans))):
            for _ in range(cfg.unet_blocks + 1):
                self.up.append(Level(ch + skips.pop(), cout, temb, cfg, res in cfg.attn_resolutions,
                                     res in cfg.xattn_resolutions))
                ch = cout
            if i > 0:
                self.up.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                             nn.Conv2d(ch, ch, 3, padding=1)))
                res *= 2
        self.norm_out = nn.GroupNorm(groups(ch), ch)
        self.conv_out = nn.Conv2d(ch, C * 4, 3, padding=1)
        self.out_shape = (C, cfg.resolution // 2, cfg.resolution // 2)

    def shuffle(self, x):
        # nn.PixelShuffle(2) written as reshape/permute with static sizes: the same element mapping,
        # but the exported ONNX graph keeps every non-batch output axis static (DepthToSpace did not).
        C, h, w = self.out_shape
        return x.reshape(-1, C, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3).reshape(-1, C, 2 * h, 2 * w)

    def forward(self, sample, timestep, context):
        emb = self.time_mlp(timestep_embedding(timestep, self.base))
        if self.ctx_mlp is not None:
            emb = emb + self.ctx_mlp(context.reshape(context.shape[0], -1))
        h = self.stem(sample)
        hs = [h]
        for m in self.down:
            h = m(h, emb, context) if isinstance(m, Level) else m(h)
            hs.append(h)
        h = self.mid2(self.mid1(h, emb, context), emb)
        for m in self.up:
            if isinstance(m, Level):
                h = m(torch.cat([h, hs.pop()], dim=1), emb, context)
            else:
                h = m(h)
        return self.shuffle(self.conv_out(F.silu(self.norm_out(h))))


# ----------------------------------------------------------------------------- the whole model

class Face0Model(nn.Module):
    """Holds the three exported networks. forward() is the training step's denoiser call."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.text_encoder = TextEncoder(cfg)
        self.face_projector = FaceProjector(cfg)
        self.unet = UNet(cfg)

    def context(self, input_ids, embedding=None, face_mask=None):
        ctx = self.text_encoder(input_ids)
        if embedding is not None:
            ctx = splice(ctx, self.face_projector(embedding), face_mask)
        return ctx

    def forward(self, x_t, t, input_ids, embedding=None, face_mask=None):
        return self.unet(x_t, t, self.context(input_ids, embedding, face_mask))
