"""The identity network (distill-id) and the identity loss of train.id_loss."""
import json
import os

import pytest
import torch

from face0_trainer.idnet import FaceIdNet, distill, id_loss, identification, load_idnet, random_blur
from face0_trainer.train import train

KW = dict(config="tiny", ckpt_every=0, sample_every=0, quiet=True, batch=4, num_workers=0)


@pytest.fixture(scope="module")
def idnet_file(shards, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("idnet") / "idnet.pt")
    best = distill(shards, path, epochs=2, batch=16, width=8, log=lambda *a: None)
    assert best["epoch"] in (1, 2) and -1.0 <= best["holdout_cos"] <= 1.0
    return path


def test_distilled_network_loads_frozen_and_learns_the_teacher(shards, idnet_file):
    net = load_idnet(idnet_file)
    assert not net.training and not any(p.requires_grad for p in net.parameters())
    # more epochs on the synthetic crops: the cosine to the whitened teacher descriptors rises
    info = torch.load(idnet_file)["info"]["history"]
    assert info[-1]["train_loss"] < info[0]["train_loss"] or len(info) == 1
    with pytest.raises(FileNotFoundError, match="distill-id"):
        load_idnet(os.path.join(os.path.dirname(idnet_file), "missing.pt"))


def test_id_loss_is_zero_for_the_target_and_reaches_only_the_estimate(idnet_file):
    net = load_idnet(idnet_file)
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(4, 3, 64, 64, generator=g) * 2 - 1
    face = torch.tensor([True, True, False, True])
    assert float(id_loss(net, x0.clone(), x0, face)) == pytest.approx(0.0, abs=1e-5)
    x_hat = (torch.rand(4, 3, 64, 64, generator=g) * 2 - 1).requires_grad_(True)
    loss = id_loss(net, x_hat, x0, face)
    assert float(loss) > 1e-3
    loss.backward()
    gnorm = x_hat.grad.flatten(1).norm(dim=1)
    assert gnorm[2] == 0 and (gnorm[[0, 1, 3]] > 0).all()      # a face-dropped sample gets no gradient
    # no face anywhere: exactly zero, still differentiable
    x_hat.grad = None
    z = id_loss(net, x_hat, x0, torch.zeros(4, dtype=torch.bool))
    z.backward()
    assert float(z) == 0.0 and float(x_hat.grad.abs().sum()) == 0.0


def test_random_blur_keeps_unblurred_samples_and_smooths_the_rest():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(64, 3, 16, 16, generator=g)
    y = random_blur(x, torch.Generator().manual_seed(1), p=0.5, max_sigma=2.0)
    same = (y - x).abs().flatten(1).amax(1) < 1e-5
    assert 0 < int(same.sum()) < 64                             # some kept, some blurred
    assert float(y[~same].diff(dim=3).abs().mean()) < float(x[~same].diff(dim=3).abs().mean())


def test_identification_counts_the_nearest_person():
    z = torch.tensor([[1.0, 0], [0.9, 0.1], [0, 1.0], [0.1, 0.9], [0.8, 0.3]])
    assert identification(z, ["a", "a", "b", "b", "b"]) == (0.8, 2)   # the last one sits nearer to a


def test_training_with_the_identity_loss_logs_it_and_refuses_a_bad_setup(shards, idnet_file, tmp_path):
    out = str(tmp_path / "run")
    train(shards, out, stage="joint", steps=3, val_every=0, log_every=1,
          overrides=["train.id_loss=0.5", f"train.id_net={idnet_file}"], **KW)
    rows = [json.loads(ln) for ln in open(os.path.join(out, "metrics.jsonl"))]
    assert [r["step"] for r in rows if "id_loss" in r] == [1, 2, 3]
    assert all(0.0 <= r["id_loss"] <= 2.0 for r in rows if "id_loss" in r)
    # the same run without the term (same seed, data, noise) ends with other weights: its gradient reached the model
    train(shards, str(tmp_path / "control"), stage="joint", steps=3, val_every=0, **KW)
    from face0_trainer.train import load_checkpoint
    a = load_checkpoint(os.path.join(out, "ckpt.pt"))["model"]
    b = load_checkpoint(str(tmp_path / "control" / "ckpt.pt"))["model"]
    k = "unet.out.weight" if "unet.out.weight" in a else next(n for n in a if n.startswith("unet.") and n.endswith("weight"))
    assert not torch.equal(a[k], b[k])
    assert not any(r.get("id_loss") for r in map(json.loads, open(str(tmp_path / "control" / "metrics.jsonl"))))
    with pytest.raises(ValueError, match="face stage"):
        train(shards, str(tmp_path / "base"), stage="base", steps=1,
              overrides=["train.id_loss=0.5", f"train.id_net={idnet_file}"], **KW)
    with pytest.raises(FileNotFoundError, match="id_net"):
        train(shards, str(tmp_path / "none"), stage="joint", steps=1, val_every=0,
              overrides=["train.id_loss=0.5"], **KW)


def test_width_and_resolution_set_the_network_shape():
    net = FaceIdNet(width=8, dim=16, resolution=32)
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 16)


def test_id_net_path_resolves_from_the_repository_root(tmp_path, monkeypatch):
    from face0_trainer.idnet import REPO_ROOT, resolve_path
    monkeypatch.chdir(tmp_path)                       # a run started from another folder
    assert resolve_path("trainer/face0_trainer/idnet.py") == os.path.join(REPO_ROOT, "trainer/face0_trainer/idnet.py")
    assert resolve_path("no/such/file.pt") == "no/such/file.pt"
