"""Where tensors live: device selection and the mixed-precision policy."""

from __future__ import annotations

import contextlib

import torch

from wsbench.errors import ParameterError

DEVICE_NAMES = ("auto", "cpu", "cuda", "cuda:<index>", "mps")


def select_device(requested: str | None) -> torch.device:
    """``"auto"`` or None -> cuda if available, else mps, else cpu; otherwise the named device.

    Raises ``ParameterError`` for an unknown name or a device this machine does not have.
    """
    name = (requested or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda", "mps"):
        raise ParameterError(
            f"device {requested!r} is not known; use one of {', '.join(DEVICE_NAMES)}"
        )
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ParameterError(
            f"device {requested!r} was asked for but torch sees no CUDA GPU; "
            "use --device cpu or auto"
        )
    if device.type == "cuda" and device.index is not None:
        count = torch.cuda.device_count()
        if device.index >= count:
            raise ParameterError(
                f"device {requested!r}: torch sees {count} CUDA GPU(s), numbered 0..{count - 1}; "
                "give one of those, or --device cuda"
            )
    if device.type == "mps" and not _mps_available():
        raise ParameterError(
            f"device {requested!r} was asked for but MPS is not available; use --device cpu or auto"
        )
    return device


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def amp_dtype(device: torch.device, enabled: bool = True) -> torch.dtype | None:
    """The autocast dtype: bfloat16 on CUDA when ``enabled``, else None (full precision)."""
    return torch.bfloat16 if enabled and device.type == "cuda" else None


def autocast(device: torch.device, enabled: bool = True) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA; a no-op context everywhere else."""
    dtype = amp_dtype(device, enabled)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)
