"""Configs: one dataclass for the model, one for training. `default` and `tiny` presets.

The default model is sized for CPU sampling (DESIGN.md: one 64x64 UNet evaluation <= ~3 GFLOP):
a 4x4/stride-2 stem takes 64x64 pixels to a 32x32 feature map, so no convolution runs at full
resolution, and attention runs only at 16x16 and 8x8. `python -m face0_trainer flops` counts it.
"""
from dataclasses import dataclass, field, asdict, fields
from typing import Tuple


@dataclass
class ModelConfig:
    resolution: int = 64          # pixels (square)
    channels: int = 3
    vocab_size: int = 0           # set from the tokenizer
    context_length: int = 24      # L
    face_tokens: int = 4          # K: the last K context positions take the face tokens
    embedding_dim: int = 128      # E: identity embedding size
    # text encoder (pre-LN transformer, learned positions)
    text_width: int = 256         # D
    text_layers: int = 4
    text_heads: int = 4
    # face projector: Linear(E, H) - GELU - Linear(H, K*D), then LayerNorm(D)
    proj_hidden: int = 512
    # UNet
    unet_base: int = 48           # width after the stride-2 stem (feature map = resolution/2)
    unet_mults: Tuple[int, ...] = (1, 2, 3)
    unet_blocks: int = 2          # res-blocks per level (down path; up path has one more)
    attn_resolutions: Tuple[int, ...] = (16, 8)   # feature-map sizes with self+cross attention
    # feature-map sizes whose levels also get a cross-attention-only block (model.CrossAttentionBlock):
    # the context reaches finer maps than the transformers at a fraction of their cost. The `cpu`
    # preset attends at 8x8 only, so the face could steer nothing finer than 8-pixel blocks directly
    xattn_resolutions: Tuple[int, ...] = ()
    head_dim: int = 48             # 96 -> 2 heads, 144 -> 3 heads; multiples of 8 suit flash attention
    ff_mult: int = 2              # feed-forward width multiplier in UNet transformer blocks
    dropout: float = 0.0
    # global context path: the whole context (text + face tokens, flattened) through an MLP, added to
    # the timestep embedding, so every res-block's scale/shift sees it (DiT's adaLN route, which learns
    # a single conditioning vector faster than cross-attention). The face still enters only through
    # the context, so the bundle's interface and the three-way guidance are unchanged.
    global_context: bool = False
    # whiten the identity embedding before the projector: e -> L^-1 (e - mean) with the training
    # embeddings' mean and Cholesky factor (identity_stats.json), kept as buffers inside the exported
    # face projector. Raw face-api embeddings share a mean of norm 0.92 and vary by a total variance of
    # only 0.15, so the projector first sees nearly the same vector for everyone; whitened, each
    # identity direction is unit-variance (and random identities of the prior are exactly N(0, I))
    whiten_embedding: bool = False


@dataclass
class TrainConfig:
    batch: int = 64               # per process
    lr: float = 3e-4
    weight_decay: float = 0.01
    warmup: int = 200
    lr_decay: str = "cosine"      # after warm-up: "cosine" to lr_floor x lr at the stage's last step, or "constant"
    lr_floor: float = 0.1
    # a cooldown (warmup-stable-decay; Hagele et al. 2024): from step `cooldown_from` the lr falls
    # linearly to lr_floor x lr over `cooldown_steps` and stays there. A relay trains at a constant lr
    # for as long as it lasts and branches a cooldown off it when a model is to be shipped; the
    # uncooled state keeps the relay going. 0 steps: no cooldown
    cooldown_from: int = 0
    cooldown_steps: int = 0
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    p_face_drop: float = 0.1
    p_text_drop: float = 0.1
    # face dropout at high noise: samples with t >= face_drop_high_from drop the face with this
    # probability instead of p_face_drop (< 0: off). The noisiest steps draw hair colour, headwear and
    # age, where the face outvotes the prompt's words; `face0 generate`'s face start samples them
    # without the face, so more face-free training there is what that inference sees
    p_face_drop_high: float = -1.0
    face_drop_high_from: int = 750
    # the probability that a sample whose person has other training photos (CelebA identities) is
    # conditioned on the face of one of those instead of its own (data.face_from_other_photo): the
    # caption, not the reference photo, then has to say smile, glasses, hat and hair. 0: own photo
    p_face_other: float = 0.0
    # train each image with a caption drawn from the alternatives augment wrote for it (meta `captions`,
    # `face0 augment --caption-variants`), afresh each time it comes round; off: its one KEY.txt
    caption_variants: bool = False
    seed: int = 0
    num_workers: int = -1         # DataLoader workers per process; -1: auto (GPU: up to 8, CPU: 1)
    shuffle_buffer: int = 1000
    hflip: bool = True
    # leave replicated edge rows/columns (clamped crops) out of the loss. Off by default: in a 60-minute
    # CPU run (2.3k steps) the masked borders, learnt from CelebA alone, stayed noisy (MODEL_CARD.md)
    mask_edges: bool = False
    min_count: int = 1            # tokenizer: minimum word count in training captions
    timesteps: int = 1000         # T
    compile: bool = True          # torch.compile on CUDA when available
    # Min-SNR-gamma loss weighting (Hang et al. 2023), written for v-prediction: w = min(SNR, g)/(SNR+1);
    # 0 = plain MSE on v
    min_snr_gamma: float = 0.0
    # identity loss (idnet.py): weight of 1 - cos(identity of the denoised estimate, identity of the
    # target) added to the v-loss, for samples with a face; id_net: the FaceIdNet file of `distill-id`
    id_loss: float = 0.0
    id_net: str = ""
    # decode the training set once into the device's memory and draw batches there (data.MemoryBatches):
    # the GPU machine, where on-the-fly decoding cannot keep up; the CPU relay streams the shards
    in_memory: bool = False


@dataclass
class Config:
    name: str = "default"
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def get_config(name: str = "default") -> Config:
    if name == "default":
        return Config()
    if name == "cpu":
        # compute-optimal for two CPU cores (issue 10): 0.85 GFLOP/eval, ~4x the images per second of
        # the default; meant for joint face training from step 0, with the global context path
        return Config(
            name="cpu",
            model=ModelConfig(text_width=128, text_layers=4, text_heads=4, proj_hidden=512,
                              unet_base=32, unet_mults=(1, 2, 4), unet_blocks=1,
                              attn_resolutions=(8,), head_dim=32, ff_mult=2, global_context=True),
            train=TrainConfig(batch=32, lr=1e-3, warmup=100, lr_decay="constant", ema_decay=0.998,
                              p_face_drop=0.15, p_text_drop=0.15),
        )
    if name == "tiny":
        # small enough that unet.onnx is well under 2 MB and tests/fixtures run in seconds
        return Config(
            name="tiny",
            model=ModelConfig(text_width=64, text_layers=2, text_heads=2, proj_hidden=128,
                              unet_base=16, unet_mults=(1, 2), unet_blocks=1,
                              attn_resolutions=(16,), head_dim=16, ff_mult=2),
            train=TrainConfig(batch=8, lr=1e-3, warmup=5, ema_decay=0.9, num_workers=0,
                              shuffle_buffer=64),
        )
    raise ValueError(f"unknown config {name!r} (expected one of {', '.join(CONFIGS)})")


CONFIGS = ("default", "cpu", "tiny")


def to_dict(cfg) -> dict:
    return asdict(cfg)


def from_dict(d: dict) -> Config:
    m = dict(d["model"])
    for k in ("unet_mults", "attn_resolutions", "xattn_resolutions"):
        if k in m:
            m[k] = tuple(m[k])
    known_m = {f.name for f in fields(ModelConfig)}
    known_t = {f.name for f in fields(TrainConfig)}
    return Config(name=d.get("name", "default"),
                  model=ModelConfig(**{k: v for k, v in m.items() if k in known_m}),
                  train=TrainConfig(**{k: v for k, v in d["train"].items() if k in known_t}))


def apply_overrides(cfg: Config, overrides) -> Config:
    """`section.field=value` strings (e.g. model.global_context=false, train.lr=5e-4): the pilots'
    one-flag variations of a preset. Values parse as the field's type; unknown fields are errors."""
    for o in overrides or ():
        key, sep, raw = o.partition("=")
        section, _, name = key.partition(".")
        obj = {"model": cfg.model, "train": cfg.train}.get(section)
        if not sep or obj is None or name not in {f.name for f in fields(obj)}:
            raise ValueError(f"--set {o!r}: expected model.FIELD=VALUE or train.FIELD=VALUE with a known field")
        cur = getattr(obj, name)
        if isinstance(cur, bool):
            if raw.lower() not in ("true", "false", "1", "0"):
                raise ValueError(f"--set {o!r}: expected true or false")
            val = raw.lower() in ("true", "1")
        elif isinstance(cur, tuple):
            val = tuple(int(v) for v in raw.split(",") if v)
        else:
            val = type(cur)(raw)
        setattr(obj, name, val)
    return cfg
