"""A generic, seeded training loop and checkpoints.

The loop knows nothing about images or masks: a batch is a dict of tensors and the
caller's ``loss_fn(model, batch)`` turns it into a scalar. A segmenter feeds slices and
masks; a Siamese plugin can feed image pairs with its own loss.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from wsbench.errors import DataError, ParameterError
from wsbench.training.device import autocast

Batch = Mapping[str, torch.Tensor]
LossFn = Callable[[nn.Module, Batch], torch.Tensor]
Progress = Callable[[str, int, int], None]

OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides how a model is trained (gradient clipping: none)."""

    epochs: int = 10
    batch_size: int = 8
    lr: float = 1e-3
    optimizer: str = "adam"  # "sgd" | "adam"
    momentum: float = 0.9  # SGD only
    weight_decay: float = 0.0
    poly_power: float = 0.9  # lr * (1 - iter / max_iter) ** power, per iteration; 0 = constant
    amp: bool = True  # bf16 autocast, on CUDA only
    seed: int = 0
    deterministic: bool = True  # torch.use_deterministic_algorithms during fit (warn only)


def poly_lr(base_lr: float, iteration: int, max_iter: int, power: float) -> float:
    """The poly learning-rate policy: ``base_lr * (1 - iteration / max_iter) ** power``."""
    if max_iter <= 0:
        return base_lr
    return base_lr * max(0.0, 1.0 - iteration / max_iter) ** power


def make_optimizer(params: Iterable[torch.nn.Parameter], cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
        )
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    raise ParameterError(
        f"optimizer {cfg.optimizer!r} is not known; choose one of {', '.join(OPTIMIZERS)}"
    )


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch's global generators; return a fresh CPU generator for shuffling."""
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


class Trainer:
    """Runs ``cfg.epochs`` passes over ``loader`` with the poly policy and optional bf16 AMP."""

    def fit(
        self,
        model: nn.Module,
        loader: Iterable[Batch],
        loss_fn: LossFn,
        cfg: TrainConfig,
        device: torch.device,
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """Train ``model`` in place; return ``{"loss", "lr", "seconds"}`` per epoch and
        ``"iterations"``. ``loader`` must have a length (it is iterated once per epoch)."""
        steps = len(loader)  # type: ignore[arg-type]
        if steps == 0:
            raise DataError("the training loader yields no batch; check the training slices")
        max_iter = cfg.epochs * steps
        torch.manual_seed(cfg.seed)
        model.to(device).train()
        optimizer = make_optimizer(model.parameters(), cfg)
        groups = optimizer.param_groups
        on_cpu = device.type == "cpu"
        log: dict[str, Any] = {"loss": [], "lr": [], "seconds": [], "iterations": 0}
        was_deterministic = torch.are_deterministic_algorithms_enabled()
        torch.use_deterministic_algorithms(cfg.deterministic, warn_only=True)
        try:
            iteration = 0
            for epoch in range(cfg.epochs):
                start = time.perf_counter()
                total = torch.zeros((), device=device)
                for batch in loader:
                    lr = poly_lr(cfg.lr, iteration, max_iter, cfg.poly_power)
                    for group in groups:
                        group["lr"] = lr
                    if not on_cpu:
                        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
                    with autocast(device, cfg.amp):
                        loss = loss_fn(model, batch)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    total += loss.detach().float()
                    iteration += 1
                log["loss"].append(total.item() / steps)
                log["lr"].append(lr)
                log["seconds"].append(time.perf_counter() - start)
                if progress is not None:
                    progress(f"train loss {log['loss'][-1]:.4g}", epoch + 1, cfg.epochs)
            log["iterations"] = iteration
        finally:
            torch.use_deterministic_algorithms(was_deterministic)
        return log


def save_checkpoint(path: Path, model: nn.Module, extra: Mapping[str, Any] | None = None) -> None:
    """Write the model's weights and ``extra`` (plain Python values only) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "extra": dict(extra or {})}, path)


def read_checkpoint(path: Path) -> dict[str, Any]:
    """``{"state_dict", "extra"}`` from ``path``, loaded with ``weights_only=True``."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"checkpoint {path} does not exist; train first or check the path")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as exc:
        raise DataError(
            f"checkpoint {path} cannot be read ({type(exc).__name__}: {exc}); delete it and retrain"
        ) from None
    if not isinstance(payload, dict) or "state_dict" not in payload:
        raise DataError(f"checkpoint {path} was not written by wsbench; delete it and retrain")
    return payload


def load_checkpoint(path: Path, model: nn.Module) -> dict[str, Any]:
    """Load weights from ``path`` into ``model``; return the checkpoint's ``extra``."""
    payload = read_checkpoint(path)
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise DataError(
            f"checkpoint {path} does not fit this model ({first}); was it saved with other params?"
        ) from None
    return payload.get("extra", {})
