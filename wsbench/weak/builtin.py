"""Built-in weak-label protocols, registered through the ``wsbench`` entry point group."""

from __future__ import annotations

from wsbench import hookimpl
from wsbench.weak.box import BoxProtocol
from wsbench.weak.full import FullProtocol
from wsbench.weak.partial import PartialProtocol
from wsbench.weak.recist import RecistProtocol
from wsbench.weak.tags import TagsProtocol


@hookimpl
def wsbench_register_protocols() -> list[type]:
    return [BoxProtocol, RecistProtocol, TagsProtocol, PartialProtocol, FullProtocol]
