"""The hooks wsbench calls: nothing but registration lives here."""

from __future__ import annotations

from wsbench import hookimpl

from wsbench_ellipse.labeler import EllipseFill


@hookimpl
def wsbench_register_labelers() -> list[type]:
    return [EllipseFill]
