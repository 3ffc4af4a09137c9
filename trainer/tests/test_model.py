import numpy as np
import torch

from face0_trainer.config import get_config
from face0_trainer.flops import unet_flops
from face0_trainer.model import Face0Model, splice
from face0_trainer.schedule import Schedule, cosine_betas, alphas_cumprod, v_to_x0_eps, ddim_timesteps, guide


def test_shapes(tiny_cfg):
    m = tiny_cfg.model
    model = Face0Model(m).eval()
    B = 3
    ids = torch.randint(0, m.vocab_size, (B, m.context_length))
    emb = torch.nn.functional.normalize(torch.randn(B, m.embedding_dim), dim=-1)
    h = model.text_encoder(ids)
    assert h.shape == (B, m.context_length, m.text_width)
    f = model.face_projector(emb)
    assert f.shape == (B, m.face_tokens, m.text_width)
    x = torch.randn(B, m.channels, m.resolution, m.resolution)
    out = model(x, torch.tensor([0.0, 500.5, 999.0]), ids, emb)
    assert out.shape == x.shape and torch.isfinite(out).all()


def test_splice_positions(tiny_cfg):
    m = tiny_cfg.model
    B, L, K, D = 4, m.context_length, m.face_tokens, m.text_width
    ctx = torch.randn(B, L, D)
    face = torch.randn(B, K, D)
    out = splice(ctx, face)
    assert torch.equal(out[:, :L - K], ctx[:, :L - K])
    assert torch.equal(out[:, L - K:], face)
    mask = torch.tensor([True, False, True, False])
    out = splice(ctx, face, mask)
    assert torch.equal(out[1], ctx[1]) and torch.equal(out[3], ctx[3])
    assert torch.equal(out[0, L - K:], face[0]) and torch.equal(out[0, :L - K], ctx[0, :L - K])


def test_default_flops_budget():
    cfg = get_config("default").model
    u = unet_flops(cfg)
    assert u["total"] <= 3.2e9, u
    assert u["attention"] > 0 and u["conv"] > 0


def test_attention_only_at_16_and_below():
    cfg = get_config("default").model
    model = Face0Model(dataclass_replace(cfg, vocab_size=10)).unet
    seen = []
    for mod in model.modules():
        if mod.__class__.__name__ == "SpatialTransformer":
            mod.register_forward_hook(lambda mm, i, o: seen.append(o.shape[-1]))
    model(torch.zeros(1, 3, 64, 64), torch.zeros(1), torch.zeros(1, cfg.context_length, cfg.text_width))
    assert seen and max(seen) <= 16


def dataclass_replace(c, **kw):
    import dataclasses
    return dataclasses.replace(c, **kw)


def test_schedule_semantics():
    s = Schedule(1000)
    b = cosine_betas(1000)
    assert b.shape == (1000,) and (b > 0).all() and (b <= 0.999).all()
    ac = alphas_cumprod(b)
    assert np.allclose(ac, np.cumprod(1 - b)) and np.allclose(ac, s.alphas_cumprod)
    assert ac[0] > 0.999 and ac[-1] < 1e-6 and (np.diff(ac) < 0).all()
    x0, eps = torch.randn(2, 3, 8, 8, dtype=torch.float64), torch.randn(2, 3, 8, 8, dtype=torch.float64)
    t = torch.tensor([3, 800])
    xt = s.q_sample(x0, t, eps)
    v = s.v_target(x0, t, eps)
    a = torch.tensor(ac[[3, 800]]).view(-1, 1, 1, 1)
    rx0, reps = v_to_x0_eps(xt, v, a)
    assert torch.allclose(rx0, x0) and torch.allclose(reps, eps)
    assert ddim_timesteps(10) == [999, 888, 777, 666, 555, 444, 333, 222, 111, 0]
    assert ddim_timesteps(20)[0] == 999 and ddim_timesteps(20)[-1] == 0


def test_guidance_formula():
    uu, tu, tf = torch.tensor(1.0), torch.tensor(2.0), torch.tensor(5.0)
    assert guide(uu, tu, tf, 3.0, 2.0).item() == 1 + 3 * 1 + 2 * 3
    assert guide(uu, tu, tf, 3.0, 0.0).item() == 4.0
