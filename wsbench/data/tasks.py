"""Task tables shared by the loaders.

LiTS labels 0 background, 1 liver, 2 tumour; the ``synthetic`` phantom follows the same
convention (and adds organs: 3 pancreas, 4 stomach; see ``wsbench.data.phantom.LABELS``),
so both datasets offer the same ``tumor``, ``liver`` and ``organs`` targets.
"""

from __future__ import annotations

from wsbench.api import Task

LIVER_VALUES = (1, 2)

LITS_TASKS: dict[str, Task] = {
    "tumor": Task("tumor", ("tumor",), ((2,),)),
    "liver": Task("liver", ("liver",), (LIVER_VALUES,)),
    "organs": Task("organs", ("liver", "pancreas", "stomach"), (LIVER_VALUES, (3,), (4,))),
}
