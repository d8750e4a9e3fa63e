"""Weak labels for one case: the single implementation the runner, tuning scripts and the
conformance suites share, so a labeler sees the same weak labels everywhere."""

from __future__ import annotations

import numpy as np

from wsbench.api import Case, Intensity, Protocol, WeakCase, WeakLabel
from wsbench.errors import DataError
from wsbench.params import stable_hash

TEST_HINT_STREAM = "test-hint"  # the seed stream of hints simulated on test cases


def weak_seed(protocol_name: str, seed: int, case_id: str, stream: str = "") -> int:
    """The generator seed of one case's weak label.

    Seeded by protocol name, cell seed and case id, not by the protocol's parameters: a
    sweep over a parameter (alpha) draws the same random numbers at every value, so its
    weak labels are nested. ``stream`` separates other uses of the same protocol (the
    test-time hints of guided segmenters) from the training weak labels' stream.
    """
    key: list = [protocol_name, seed, case_id] + ([stream] if stream else [])
    return int(stable_hash(key, 15), 16)


def simulate_weak(protocol: Protocol, case: Case, seed: int, stream: str = "") -> WeakLabel:
    """Simulate ``protocol``'s weak label of ``case`` for the cell seed ``seed`` (in the
    seed stream ``stream``; "" is the training weak labels' stream)."""
    if case.label is None:
        raise DataError(
            f"case {case.id} ({case.source or 'no file'}) has no ground truth to simulate "
            f"{protocol.produces!r} labels from; give masks or use --weak native"
        )
    rng = np.random.default_rng(weak_seed(protocol.name, seed, case.id, stream))
    return protocol.simulate(case, rng)


def native_weak(case: Case, kind: str) -> WeakLabel:
    """The weak label of ``kind`` that the dataset ships for ``case``."""
    if kind not in case.native_weak:
        raise DataError(
            f"case {case.id} ({case.source or 'no file'}) ships no {kind!r} weak label; "
            "fix the annotation file or run with --weak <protocol>"
        )
    return case.native_weak[kind]


def weak_case(case: Case, weak: WeakLabel, intensity: Intensity) -> WeakCase:
    """What a labeler or segmenter sees of a training case: image, spacing, weak label."""
    return WeakCase(
        id=case.id,
        patient=case.patient,
        image=case.image,
        spacing=case.spacing,
        weak=weak,
        classes=case.classes,
        intensity=intensity,
    )
