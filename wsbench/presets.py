"""Named, documented configurations: bundles of ``--set`` values for ``wsbench run --preset``.

A preset is plain ``--set`` values, so everything it sets lands in each cell's overrides
and provenance like a user's own ``--set``; values the user gives on the command line win.
``docs/phantom.md`` says how each preset was chosen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from wsbench.errors import ParameterError


@dataclass(frozen=True)
class Preset:
    name: str
    summary: str
    sets: Mapping[str, str] = field(default_factory=dict)
    target: str | None = None  # the --target it implies, unless the user gives one


# Fan et al. 2022's tumour protocol on any dataset with liver and tumour labels (lits,
# ircadb, the phantom): train and score on the 2D slices holding tumour, Dice per image;
# the cascade's liver-ROI crop; a budget counted in optimiser steps. ``{dataset}`` stands
# for each dataset of the run.
TUMOUR = Preset(
    name="tumour",
    summary="Fan et al. 2022's tumour protocol (tumour slices, Dice per image, liver ROI)",
    target="tumor",
    sets={
        "{dataset}.evaluate": "images",
        "{dataset}.roi": "organ",
        "weak.slices": "target",
        "train.epochs": "1",
        "train.min_steps": "600",
        "train.hflip": "true",
        "cam.epochs": "3",
        "acol.epochs": "3",
    },
)


def for_datasets(sets: Mapping[str, str], datasets: Sequence[str]) -> dict[str, str]:
    """``sets`` with each ``{dataset}`` key written out once per dataset of the run."""
    out: dict[str, str] = {}
    for key, value in sets.items():
        if "{dataset}" in key:
            out.update({key.format(dataset=name): value for name in datasets})
        else:
            out[key] = value
    return out


# The same protocol on the phantom at CPU size (docs/phantom.md, "The tumour benchmark"):
# 64 phantom patients (48 for training, 16 for testing), the quick phantom's tumours
# unchanged.
TUMOUR_CPU = Preset(
    name="tumour-cpu",
    summary="Fan et al. 2022's tumour protocol on the phantom at CPU size (docs/phantom.md)",
    target="tumor",
    sets={
        "synthetic.n_patients": "64",
        "synthetic.val_fraction": "0",
        "synthetic.test_fraction": "0.25",
        **for_datasets(TUMOUR.sets, ["synthetic"]),
    },
)

PRESETS: dict[str, Preset] = {p.name: p for p in (TUMOUR, TUMOUR_CPU)}


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ParameterError(f"--preset {name!r} is unknown; the presets are: {', '.join(PRESETS)}")
    return PRESETS[name]


def with_preset(
    name: str | None, sets: Mapping[str, str], datasets: Sequence[str] = ("synthetic",)
) -> dict[str, str]:
    """The preset's values for ``datasets``, then the user's ``--set`` values on top."""
    if not name:
        return dict(sets)
    return {**for_datasets(get_preset(name).sets, datasets), **sets}
