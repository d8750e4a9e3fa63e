"""The siim dataset on a tiny SIIM-ACR copy: nested DICOMs (one JPEG-compressed) + train-rle.csv."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.encaps import encapsulate
from pydicom.uid import JPEGBaseline8Bit

from wsbench.data.check import check_dataset, folder_digest
from wsbench.data.dicom import write_slice
from wsbench.data.rle import decode_rle, encode_rle
from wsbench.data.siim import SiimDataset
from wsbench.errors import DataError

ROWS, COLS = 48, 64  # not square, so a row-major decode would fail the tests
SPACING = (0.168, 0.171)


def uid(i: int) -> str:
    return f"1.2.276.0.7230010.3.1.4.8323329.{1000 + i}.1517875162.{i}"


def xray(i: int) -> np.ndarray:
    return ((np.arange(ROWS * COLS).reshape(ROWS, COLS) * (i + 3)) % 251).astype(np.uint8)


def lesion(i: int) -> np.ndarray:
    mask = np.zeros((ROWS, COLS), bool)
    mask[5 + i : 15 + i, 30 : 40 + i] = True
    return mask


def write_dicom(path: Path, i: int, *, jpeg: bool = False) -> Path:
    write_slice(path, xray(i), spacing=SPACING, sop_uid=uid(i), modality="CR")
    if jpeg:  # the challenge ships JPEG Baseline files
        ds = pydicom.dcmread(path)
        buf = io.BytesIO()
        Image.fromarray(xray(i)).save(buf, format="JPEG", quality=100)
        ds.PixelData = encapsulate([buf.getvalue()])
        ds["PixelData"].VR = "OB"
        ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
        ds.save_as(path, enforce_file_format=True)
    return path


def write_siim(root: Path) -> Path:
    """Five images: 0 and 1 positive (1 split over two rows), 2-4 negative; 3 renamed."""
    for i in range(5):
        nested = root / "dicom-images-train" / f"1.2.{i}" / f"1.2.{i}.1"
        name = f"scan_{i}.dcm" if i == 3 else f"{uid(i)}.dcm"
        write_dicom(nested / name, i, jpeg=i == 0)
    first, second = lesion(1).copy(), lesion(1).copy()
    first[:, 35:] = False
    second[:, :35] = False
    rows = [
        (uid(0), encode_rle(lesion(0))),
        (uid(1), encode_rle(first)),
        (uid(1), encode_rle(second)),
        (uid(2), "-1"),
        (uid(3), "-1"),
        (uid(4), " -1"),
    ]
    (root / "train-rle.csv").write_text(
        "ImageId, EncodedPixels\n" + "".join(f"{a},{b}\n" for a, b in rows)
    )
    return root


def test_relative_column_major_rle_by_hand():
    expected = np.zeros((4, 3), bool)
    expected[1, 0] = expected[2, 0] = expected[2, 1] = True  # pixels 1, 2 and 6, column by column
    np.testing.assert_array_equal(decode_rle("1 2 3 1", (4, 3)), expected)
    np.testing.assert_array_equal(decode_rle("1 2 6 1", (4, 3), relative=False), expected)
    assert encode_rle(expected) == "1 2 3 1"
    assert encode_rle(expected, relative=False) == "1 2 6 1"
    assert not decode_rle("-1", (4, 3)).any() and encode_rle(np.zeros((4, 3))) == "-1"
    with pytest.raises(DataError, match="RLE runs to pixel 13"):
        decode_rle("1 2 8 2", (4, 3))
    with pytest.raises(DataError, match="pairs"):
        decode_rle("1 2 3", (4, 3))


def test_cases_pixels_spacing_and_masks(tmp_path):
    root = write_siim(tmp_path / "siim")
    before = folder_digest(root)
    ds = SiimDataset(data_dir=root)
    infos = ds.list_cases()
    assert [c.id for c in infos] == [uid(i) for i in range(5)]
    assert infos[3].source.endswith("scan_3.dcm")  # found by SOPInstanceUID
    task = ds.tasks()["pneumothorax"]
    cases = [ds.load_case(info, task) for info in infos]
    for i, case in enumerate(cases):
        assert case.shape == (1, ROWS, COLS) and case.image.dtype == np.float32
        np.testing.assert_allclose(case.image[0], xray(i), atol=2)  # case 0 is JPEG
        assert case.spacing == pytest.approx((1.0, *SPACING))
    np.testing.assert_array_equal(cases[0].label[0], lesion(0))
    np.testing.assert_array_equal(cases[1].label[0], lesion(1))  # two rows unioned
    assert [int(c.label.sum()) for c in cases] == [100, 110, 0, 0, 0]
    assert [c.meta["positive"] for c in cases] == [True, True, False, False, False]
    tags = [c.native_weak["tags"] for c in cases]
    assert [bool(t.present[0, 0]) for t in tags] == [True, True, False, False, False]
    assert all(t.slices.tolist() == [0] for t in tags)
    assert folder_digest(root) == before


def test_bad_inputs_give_one_line_each(tmp_path):
    root = write_siim(tmp_path / "siim")
    nested = root / "dicom-images-train"
    next(nested.rglob(f"{uid(2)}.dcm")).unlink()  # missing image
    victim = next(nested.rglob(f"{uid(4)}.dcm"))
    victim.write_bytes(victim.read_bytes()[:-100])  # truncated
    text = (root / "train-rle.csv").read_text()
    long_rle = f"{ROWS * COLS - 5} 10"
    (root / "train-rle.csv").write_text(text.replace(f"{uid(3)},-1", f"{uid(3)},{long_rle}"))
    before = folder_digest(root)
    records, errors = check_dataset(SiimDataset(data_dir=root))
    assert [r["id"] for r in records] == [uid(0), uid(1)]
    assert records[0]["voxels"] == {"0 background": ROWS * COLS - 100, "1 pneumothorax": 100}
    causes = [(uid(2), "no DICOM file"), (uid(3), "RLE runs to pixel"), (uid(4), "truncated")]
    assert len(errors) == 3
    for (image_id, cause), line in zip(causes, errors):
        assert image_id in line and cause in line and "\n" not in line
    assert folder_digest(root) == before


def test_missing_csv_is_one_clear_error(tmp_path):
    records, errors = check_dataset(SiimDataset(data_dir=tmp_path))
    assert records == [] and len(errors) == 1 and "train-rle.csv: missing" in errors[0]
