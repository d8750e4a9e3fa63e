"""One training epoch: the generic Trainer against a bare hand-written PyTorch loop.

Both run the same model, data, loader and loss in the same process; compare the two
means of group ``trainer-epoch`` (goal: Trainer at most 3 % slower).

    pytest benchmarks/test_bench_trainer.py --benchmark-only
"""

from __future__ import annotations

import pytest
import torch

from wsbench.segmenters.slices import ShuffledBatches, SliceDataset
from wsbench.segmenters.unet import UNet
from wsbench.training.losses import make_loss
from wsbench.training.trainer import TrainConfig, Trainer, poly_lr

SLICES, SIZE, BATCH = 48, 64, 8


@pytest.fixture(scope="module")
def setup():
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    data = SliceDataset(
        torch.randn(SLICES, 1, SIZE, SIZE, generator=g),
        (torch.rand(SLICES, SIZE, SIZE, generator=g) > 0.7).to(torch.uint8),
        torch.ones(SLICES, SIZE, SIZE, dtype=torch.float16),
    )
    loss = make_loss("ce+dice", multilabel=False)
    return data, loss


def _loader(data):
    return torch.utils.data.DataLoader(
        data,
        batch_sampler=ShuffledBatches(len(data), BATCH, torch.Generator().manual_seed(0)),
        collate_fn=lambda batch: batch,
    )


def _model():
    torch.manual_seed(0)
    return UNet(1, 2, width=8, depth=3)


@pytest.mark.benchmark(group="trainer-epoch")
def test_bare_loop(benchmark, setup):
    data, loss = setup
    loader = _loader(data)

    def epoch():
        model = _model().train()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        steps = len(loader)
        for i, batch in enumerate(loader):
            for group in optimizer.param_groups:
                group["lr"] = poly_lr(0.01, i, steps, 0.9)
            out = loss(model(batch["image"]).float(), batch["target"], batch["weight"].float())
            optimizer.zero_grad()
            out.backward()
            optimizer.step()

    benchmark.pedantic(epoch, rounds=6, warmup_rounds=1)


@pytest.mark.benchmark(group="trainer-epoch")
@pytest.mark.parametrize("deterministic", [True, False], ids=["deterministic", "default-algos"])
def test_trainer(benchmark, setup, deterministic):
    """The Trainer as wsbench runs it (deterministic algorithms on) and with torch's default
    algorithms, which is what the bare loop uses: the gap between the two is the price of
    determinism, the gap to the bare loop the Trainer's own overhead."""
    data, loss = setup
    loader = _loader(data)
    cfg = TrainConfig(
        epochs=1,
        batch_size=BATCH,
        lr=0.01,
        optimizer="sgd",
        momentum=0.9,
        deterministic=deterministic,
    )

    def loss_fn(model, batch):
        return loss(model(batch["image"]).float(), batch["target"], batch["weight"].float())

    def epoch():
        Trainer().fit(_model(), loader, loss_fn, cfg, torch.device("cpu"))

    benchmark.pedantic(epoch, rounds=6, warmup_rounds=1)
