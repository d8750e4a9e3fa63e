"""The generic trainer: learning, determinism, the poly policy, checkpoints, devices."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from wsbench.errors import DataError, ParameterError
from wsbench.training.device import amp_dtype, select_device
from wsbench.training.trainer import (
    TrainConfig,
    Trainer,
    load_checkpoint,
    poly_lr,
    save_checkpoint,
)


class Batches:
    """Seeded shuffled mini-batches of a dict of tensors (a minimal loader)."""

    def __init__(self, data: dict[str, torch.Tensor], batch_size: int, seed: int):
        self.data, self.batch_size = data, batch_size
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return math.ceil(len(self.data["x"]) / self.batch_size)

    def __iter__(self):
        order = torch.randperm(len(self.data["x"]), generator=self.generator)
        for i in range(0, len(order), self.batch_size):
            rows = order[i : i + self.batch_size]
            yield {k: v[rows] for k, v in self.data.items()}


def _problem(seed: int = 0):
    """A small regression problem a two-layer network can fit."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 4, generator=g)
    y = (x[:, :1] * 2 - x[:, 1:2] + 0.5).tanh()
    return {"x": x, "y": y}


def _mse(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return ((model(batch["x"]) - batch["y"]) ** 2).mean()


def _train(seed: int = 0, **cfg):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 1))
    config = TrainConfig(
        **{"epochs": 15, "batch_size": 8, "lr": 0.05, "optimizer": "sgd", "seed": seed, **cfg}
    )
    log = Trainer().fit(
        model, Batches(_problem(), config.batch_size, seed), _mse, config, torch.device("cpu")
    )
    return model, log


def test_loss_falls():
    _, log = _train()
    assert len(log["loss"]) == 15 and log["iterations"] == 15 * 8
    assert log["loss"][-1] < 0.3 * log["loss"][0]


def test_adam_also_learns():
    _, log = _train(optimizer="adam", lr=0.01)
    assert log["loss"][-1] < 0.5 * log["loss"][0]


def test_two_cpu_runs_give_identical_weights():
    a, log_a = _train(seed=3)
    b, log_b = _train(seed=3)
    assert log_a["loss"] == log_b["loss"]
    for pa, pb in zip(a.state_dict().values(), b.state_dict().values()):
        assert torch.equal(pa, pb)
    c, _ = _train(seed=4)
    assert not torch.equal(a[0].weight, c[0].weight)


def test_poly_schedule_values():
    assert poly_lr(0.01, 0, 100, 0.9) == 0.01
    assert poly_lr(0.01, 50, 100, 0.9) == pytest.approx(0.01 * 0.5**0.9)
    assert poly_lr(0.01, 100, 100, 0.9) == 0.0
    assert poly_lr(0.01, 30, 100, 0.0) == 0.01


def test_trainer_applies_poly_per_iteration(monkeypatch):
    rates: list[float] = []
    model = nn.Linear(4, 1)
    cfg = TrainConfig(epochs=2, batch_size=16, lr=0.1, optimizer="sgd", poly_power=0.9)

    class Spy(torch.optim.SGD):  # records the rate each step runs with
        def step(self, closure=None):
            rates.append(self.param_groups[0]["lr"])
            return super().step(closure)

    monkeypatch.setattr(torch.optim, "SGD", Spy)
    log = Trainer().fit(model, Batches(_problem(), 16, 0), _mse, cfg, torch.device("cpu"))
    max_iter = 2 * 4
    assert rates == pytest.approx([poly_lr(0.1, i, max_iter, 0.9) for i in range(max_iter)])
    assert log["lr"] == [rates[3], rates[7]]


def test_progress_called_per_epoch():
    calls = []
    model = nn.Linear(4, 1)
    cfg = TrainConfig(epochs=3, batch_size=32)
    Trainer().fit(
        model,
        Batches(_problem(), 32, 0),
        _mse,
        cfg,
        torch.device("cpu"),
        progress=lambda what, done, total: calls.append((what, done, total)),
    )
    assert [(done, total) for _, done, total in calls] == [(1, 3), (2, 3), (3, 3)]
    assert all(what.startswith("train loss ") for what, _, _ in calls)  # the live row shows it


def test_empty_loader_and_bad_optimizer_are_clear_errors():
    model = nn.Linear(4, 1)
    with pytest.raises(DataError, match="no batch"):
        Trainer().fit(model, [], _mse, TrainConfig(), torch.device("cpu"))
    with pytest.raises(ParameterError, match="sgd, adam"):
        Trainer().fit(
            model,
            Batches(_problem(), 8, 0),
            _mse,
            TrainConfig(optimizer="lbfgs"),
            torch.device("cpu"),
        )


def test_checkpoint_round_trip_weights_only(tmp_path, monkeypatch):
    model, _ = _train(epochs=2)
    path = tmp_path / "sub" / "ckpt.pt"
    save_checkpoint(path, model, {"classes": ["liver", "tumour"], "epochs": 2, "ok": True})
    loads = []
    real_load = torch.load

    def spy(*args, **kwargs):
        loads.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    fresh = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 1))
    extra = load_checkpoint(path, fresh)
    assert loads == [True]
    assert extra == {"classes": ["liver", "tumour"], "epochs": 2, "ok": True}
    x = torch.randn(5, 4)
    assert torch.equal(fresh(x), model(x))


def test_checkpoint_errors_name_the_file(tmp_path):
    with pytest.raises(DataError, match="missing.pt does not exist"):
        load_checkpoint(tmp_path / "missing.pt", nn.Linear(4, 1))
    path = tmp_path / "small.pt"
    save_checkpoint(path, nn.Linear(4, 1))
    with pytest.raises(DataError, match="small.pt does not fit"):
        load_checkpoint(path, nn.Linear(3, 1))


def test_device_selection():
    assert select_device("cpu") == torch.device("cpu")
    auto = select_device("auto")
    if torch.cuda.is_available():
        assert auto.type == "cuda"
    elif torch.backends.mps.is_available():
        assert auto.type == "mps"
    else:
        assert auto == torch.device("cpu")
    assert select_device(None) == auto
    with pytest.raises(ParameterError, match="auto, cpu, cuda"):
        select_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ParameterError, match="no CUDA GPU"):
            select_device("cuda")


def test_amp_is_bf16_on_cuda_only():
    assert amp_dtype(torch.device("cpu")) is None
    assert amp_dtype(torch.device("cuda")) is torch.bfloat16
    assert amp_dtype(torch.device("cuda"), enabled=False) is None
