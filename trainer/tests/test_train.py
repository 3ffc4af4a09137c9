import json
import os
import subprocess
import sys

import torch

from face0_trainer.model import Face0Model
from face0_trainer.schedule import Schedule
from face0_trainer.train import train, draw_conditioning, load_checkpoint, sample_grid, model_from_checkpoint

TRAINER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_dropout_rates_and_effects(tiny_cfg, tokenizer):
    m = tiny_cfg.model
    g = torch.Generator().manual_seed(0)
    N = 20000
    ids = torch.tensor([tokenizer.encode("a photo of a smiling woman", m.context_length, m.face_tokens)] * N)
    empty = torch.tensor(tokenizer.encode("", m.context_length, m.face_tokens))
    new_ids, face_mask = draw_conditioning(ids, empty, g, 0.1, 0.1)
    text_dropped = (new_ids == empty).all(dim=1)
    assert ((new_ids == ids).all(dim=1) | text_dropped).all()       # either untouched or exactly the empty ids
    assert abs(text_dropped.float().mean().item() - 0.1) < 0.01
    assert abs((~face_mask).float().mean().item() - 0.1) < 0.01
    both = (text_dropped & ~face_mask).float().mean().item()
    assert abs(both - 0.01) < 0.004                                   # independent draws
    # a dropped face leaves the text encoder's context unchanged; a kept face replaces the last K
    model = Face0Model(m).eval()
    emb = torch.nn.functional.normalize(torch.randn(2, m.embedding_dim), dim=-1)
    ids2 = ids[:2]
    with torch.no_grad():
        text_ctx = model.text_encoder(ids2)
        ctx = model.context(ids2, emb, torch.tensor([False, True]))
    assert torch.equal(ctx[0], text_ctx[0])
    assert torch.equal(ctx[1, :-m.face_tokens], text_ctx[1, :-m.face_tokens])
    assert not torch.allclose(ctx[1, -m.face_tokens:], text_ctx[1, -m.face_tokens:])


def test_face_dropout_at_high_noise(tiny_cfg, tokenizer):
    m = tiny_cfg.model
    N = 20000
    ids = torch.tensor([tokenizer.encode("a photo of a smiling woman", m.context_length, m.face_tokens)] * N)
    empty = torch.tensor(tokenizer.encode("", m.context_length, m.face_tokens))
    t = torch.arange(N) % 1000
    _, plain = draw_conditioning(ids, empty, torch.Generator().manual_seed(3), 0.1, 0.1)
    _, off = draw_conditioning(ids, empty, torch.Generator().manual_seed(3), 0.1, 0.1, t, None)
    ids_h, high = draw_conditioning(ids, empty, torch.Generator().manual_seed(3), 0.1, 0.1, t, (750, 0.6))
    assert torch.equal(plain, off)                                   # off: the same draws as before
    assert abs((~high[t < 750]).float().mean().item() - 0.1) < 0.015
    assert abs((~high[t >= 750]).float().mean().item() - 0.6) < 0.02
    assert torch.equal(high[t < 750], plain[t < 750])                # below the threshold: unchanged


def test_loss_decreases_on_tiny_overfit(tiny_cfg):
    torch.manual_seed(0)
    m = tiny_cfg.model
    model = Face0Model(m)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    s = Schedule(1000)
    B = 2
    x0 = torch.rand(B, 3, 64, 64) * 2 - 1
    noise = torch.randn_like(x0)
    t = torch.tensor([200, 700])
    ids = torch.randint(4, m.vocab_size, (B, m.context_length))
    emb = torch.nn.functional.normalize(torch.randn(B, m.embedding_dim), dim=-1)
    xt, v = s.q_sample(x0, t, noise), s.v_target(x0, t, noise)
    losses = []
    for _ in range(30):
        loss = torch.nn.functional.mse_loss(model(xt, t.float(), ids, emb), v)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) / 5 < 0.7 * sum(losses[:5]) / 5, losses


def state_equal(a, b):
    return all(torch.equal(a[k], b[k]) for k in a) and a.keys() == b.keys()


def test_resume_is_exact(shards, tmp_path):
    full, part = str(tmp_path / "full"), str(tmp_path / "part")
    kw = dict(stage="base", config="tiny", ckpt_every=0, sample_every=0, quiet=True, batch=4)
    train(shards, full, steps=6, num_workers=0, **kw)
    # the interrupted run uses DataLoader workers: the data order does not depend on them
    r = train(shards, part, steps=3, num_workers=2, **kw)
    assert r["step"] == 3
    train(shards, part, steps=6, resume=True, num_workers=1, **kw)
    a, b = load_checkpoint(os.path.join(full, "ckpt.pt")), load_checkpoint(os.path.join(part, "ckpt.pt"))
    assert a["step"] == b["step"] == 6
    assert state_equal(a["model"], b["model"]) and state_equal(a["ema"], b["ema"])
    assert a["data"]["positions"] == b["data"]["positions"]
    lines = [json.loads(x) for x in open(os.path.join(part, "metrics.jsonl"))]
    assert lines[-1]["step"] == 6


def test_in_memory_resume_is_exact_and_a_switch_restarts_the_epoch(shards, tmp_path, capsys):
    full, part = str(tmp_path / "full"), str(tmp_path / "part")
    kw = dict(stage="base", config="tiny", ckpt_every=0, sample_every=0, quiet=True, batch=4, num_workers=0,
              overrides=["train.in_memory=true"])
    train(shards, full, steps=6, **kw)
    train(shards, part, steps=3, **kw)
    train(shards, part, steps=6, resume=True, **kw)
    a, b = load_checkpoint(os.path.join(full, "ckpt.pt")), load_checkpoint(os.path.join(part, "ckpt.pt"))
    assert state_equal(a["model"], b["model"]) and a["data"]["positions"] == b["data"]["positions"] == [[0, 6]]
    # streamed shards, then in memory: another epoch order, so the data goes on from the next epoch
    stream = str(tmp_path / "stream")
    train(shards, stream, steps=2, **dict(kw, overrides=[]))
    capsys.readouterr()
    train(shards, stream, steps=3, resume=True, **dict(kw, quiet=False))
    assert "data restarts at the next epoch" in capsys.readouterr().out
    assert load_checkpoint(os.path.join(stream, "ckpt.pt"))["data"]["positions"] == [[1, 1]]


def test_keep_best_keeps_the_best_validation(shards, tmp_path):
    out = str(tmp_path / "run")
    train(shards, out, stage="joint", config="tiny", steps=6, ckpt_every=0, sample_every=0, quiet=True, batch=4,
          num_workers=0, val_every=2, keep_best=True)
    vals = [json.loads(x) for x in open(os.path.join(out, "metrics.jsonl")) if "face_gain" in x]
    score = [(v["face_gain"] + v["generic_face_gain"]) / 2 for v in vals]
    best = load_checkpoint(os.path.join(out, "best.pt"))
    assert best["step"] == vals[score.index(max(score))]["step"]


def test_face0_stage_and_sample_grid(shards, trained_run, tmp_path):
    out = str(tmp_path / "face0")
    train(shards, out, stage="face0", init=os.path.join(trained_run, "ckpt.pt"), steps=2, config="tiny",
          ckpt_every=0, sample_every=0, quiet=True, batch=4)
    ck = load_checkpoint(os.path.join(out, "ckpt.pt"))
    assert ck["stage"] == "face0" and [h["stage"] for h in ck["provenance"]] == ["base", "face0"]
    base = load_checkpoint(os.path.join(trained_run, "ckpt.pt"))
    # projector trained in face0 (changed from init), unet initialised from the base EMA
    assert any(not torch.equal(ck["model"][k], base["ema"][k]) for k in ck["model"] if k.startswith("face_projector"))
    model, cfg, tok = model_from_checkpoint(ck)
    png = str(tmp_path / "grid.png")
    sample_grid(model, tok, cfg, Schedule(1000), ck["sample_embeddings"][:1], png, steps=3)
    from PIL import Image
    im = Image.open(png)
    assert im.size == (2 * 64, 4 * 64)


def test_sigterm_checkpoints(shards, tmp_path):
    out = str(tmp_path / "sig")
    code = ("import os, signal, threading, sys; sys.path.insert(0, %r)\n"
            "from face0_trainer.train import train\n"
            "threading.Timer(6.0, lambda: os.kill(os.getpid(), signal.SIGTERM)).start()\n"
            "train(%r, %r, steps=100000, config='tiny', ckpt_every=0, sample_every=0, quiet=True, batch=2)\n"
            % (TRAINER, shards, out))
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    ck = load_checkpoint(os.path.join(out, "ckpt.pt"))
    assert 0 < ck["step"] < 100000


def free_port():
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_ranks(argv, world, timeout):
    """Start `world` trainer processes with the env:// rendezvous variables torchrun would set
    (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT). Not torchrun itself: its agent hung once in CI
    after both ranks had finished (not reproduced here in 25 runs), and it is not what is under test.
    On a timeout every rank dumps its Python stacks (SIGUSR1, faulthandler) into the failure message."""
    import signal
    import time
    port = free_port()
    procs = []
    for rank in range(world):
        env = dict(os.environ, OMP_NUM_THREADS="1", RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                   LOCAL_WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        procs.append(subprocess.Popen([sys.executable, "-m", "face0_trainer"] + argv, cwd=TRAINER, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    deadline = time.time() + timeout
    outs = []
    for p in procs:
        try:
            outs.append(p.communicate(timeout=max(1.0, deadline - time.time()))[0])
        except subprocess.TimeoutExpired:
            for q in procs:
                if q.poll() is None:
                    q.send_signal(signal.SIGUSR1)
            time.sleep(2)
            for q in procs:
                q.kill()
            dumps = [q.communicate()[0] for q in procs]
            raise AssertionError("ranks timed out; their output and stacks:\n" + "\n----\n".join(dumps))
    return [p.returncode for p in procs], outs


def test_ddp_two_processes(shards, tmp_path):
    out = str(tmp_path / "ddp")
    codes, outs = run_ranks(["train", "--data", shards, "--out", out, "--config", "tiny", "--steps", "3",
                             "--batch", "4", "--ckpt-every", "0", "--sample-every", "0", "--log-every", "1"],
                            world=2, timeout=180)
    assert codes == [0, 0], "\n----\n".join(outs)
    ck = load_checkpoint(os.path.join(out, "ckpt.pt"))
    assert ck["step"] == 3 and ck["data"]["world_size"] == 2 and len(ck["data"]["positions"]) == 2
    assert len(ck["rng"]) == 2
    assert ck["images"] == 3 * 4 * 2
    assert outs[0].count("step 3/3") == 1 and "step 3/3" not in outs[1]     # only rank 0 prints

def test_lr_factor_warmup_then_cosine():
    from face0_trainer.train import lr_factor
    assert lr_factor(0, 10, 100) == 0.1 and lr_factor(9, 10, 100) == 1.0
    assert abs(lr_factor(10, 10, 100) - 1.0) < 1e-12
    assert abs(lr_factor(55, 10, 100) - 0.55) < 1e-12             # halfway down from 1 to the floor 0.1
    assert abs(lr_factor(100, 10, 100) - 0.1) < 1e-12 and abs(lr_factor(500, 10, 100) - 0.1) < 1e-12
    assert lr_factor(80, 10, 100, decay="constant") == 1.0
    vals = [lr_factor(s, 10, 100) for s in range(10, 101)]
    assert all(a >= b for a, b in zip(vals, vals[1:]))


def test_cpu_threads_leave_cores_to_loader_workers(monkeypatch):
    from face0_trainer import train as tr
    monkeypatch.delenv("FACE0_THREADS", raising=False)
    monkeypatch.setattr(tr, "cpu_count", lambda: 8)
    monkeypatch.setattr(tr.os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert tr.cpu_threads(1, 0) == 8 and tr.cpu_threads(1, 1) == 7 and tr.cpu_threads(2, 1) == 3
    monkeypatch.setattr(tr, "cpu_count", lambda: 2)
    assert tr.cpu_threads(1, 1) == 1 and tr.cpu_threads(2, 1) == 1
    monkeypatch.setattr(tr.os, "getloadavg", lambda: (3.0, 0.0, 0.0))     # someone else is busy
    monkeypatch.setattr(tr, "cpu_count", lambda: 8)
    assert tr.cpu_threads(1, 1) == 4
    monkeypatch.setenv("FACE0_THREADS", "5")
    assert tr.cpu_threads(1, 1) == 5
