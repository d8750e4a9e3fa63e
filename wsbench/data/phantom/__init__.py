"""The built-in ``synthetic`` dataset: a seeded, CT-like abdominal phantom in HU.

Every patient is drawn from ``numpy.random.default_rng([seed, patient])`` and built in
millimetres (x to the patient's right, y anterior, z superior, origin at the body
centre), then sampled on the voxel grid, so the anatomy does not depend on ``size``.
The picture is then blurred (partial volume) and given correlated noise.

Raw label values (``LABELS``; also the ``organs-N.nii`` maps of ``write_lits_layout``)::

    0 background (air, fat)   5 spleen          10 portal / splenic vein
    1 liver                   6 right kidney    11 bone (vertebrae, ribs)
    2 liver tumour            7 left kidney     12 muscle
    3 pancreas                8 aorta           13 gallbladder
    4 stomach (wall + lumen)  9 inferior vena   14 bowel
                                 cava

Liver tumours are lobulated unions of rotated ellipsoids with a noisy surface, 10-60 mm
(quick) or 5-60 mm (paper) across; each is hypodense, nearly isodense, hyperdense or
rim-enhancing, large ones with a necrotic core. See docs/phantom.md for how hard it is.

Modules: ``geometry`` (voxel grid, noise, solids), ``anatomy`` (one patient), ``tumours``,
``dataset`` (the plugin) and ``export`` (the LiTS layout on disk).
"""

from __future__ import annotations

from wsbench.data.phantom.anatomy import LABELS, Phantom, make_phantom
from wsbench.data.phantom.dataset import GENERATOR_VERSION, SyntheticDataset
from wsbench.data.phantom.export import write_lits_layout
from wsbench.data.phantom.tumours import SHAPE, TUMOUR_KINDS
from wsbench.data.tasks import LITS_TASKS as TASKS
from wsbench.data.tasks import LIVER_VALUES

__all__ = [
    "GENERATOR_VERSION",
    "LABELS",
    "LIVER_VALUES",
    "SHAPE",
    "TASKS",
    "TUMOUR_KINDS",
    "Phantom",
    "SyntheticDataset",
    "make_phantom",
    "write_lits_layout",
]
