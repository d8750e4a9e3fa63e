"""Task tables shared by the loaders.

LiTS labels 0 background, 1 liver, 2 tumour; the ``synthetic`` phantom follows the same
convention (and adds organs: 3 pancreas, 4 stomach; see ``wsbench.data.phantom.LABELS``),
so both datasets offer the same ``tumor``, ``liver``, ``organs`` and ``all`` targets.

``all`` segments liver and tumour as two classes of one label map, the way LiTS labels
its segmentations and paper 003 trains: class 1 is the liver without its tumours (label 1;
tumour voxels go to the later class), class 2 the tumour (label 2). It comes last, so a
protocol that needs several classes still picks ``organs`` first where a dataset has it.
"""

from __future__ import annotations

from wsbench.api import Task

LIVER_VALUES = (1, 2)

LITS_TASKS: dict[str, Task] = {
    "tumor": Task("tumor", ("tumor",), ((2,),)),
    "liver": Task("liver", ("liver",), (LIVER_VALUES,)),
    "organs": Task("organs", ("liver", "pancreas", "stomach"), (LIVER_VALUES, (3,), (4,))),
    "all": Task("all", ("liver", "tumor"), (LIVER_VALUES, (2,))),
}
