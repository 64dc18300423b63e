"""Checkpoint files: plain Python values, bytes and tensors only, so `torch.load(weights_only=True)`
can read them. Numpy arrays are stored zlib-compressed (the env state is mostly zeros) and come
back as numpy arrays; tensors are stored as they are."""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trainer.rundir import RunPaths

CHECKPOINT_FORMAT = 2
_ARRAY_KEY = "__ndarray_zlib__"
_ZLIB_LEVEL = 1  # fast; the gain is in the zeros


def to_torch(value: Any) -> Any:
    """Turn numpy arrays (compressed) and scalars, also inside dicts and lists, into values
    `torch.load(weights_only=True)` accepts."""
    if isinstance(value, np.ndarray):
        data = np.ascontiguousarray(value)
        return {_ARRAY_KEY: zlib.compress(data.tobytes(), _ZLIB_LEVEL), "dtype": data.dtype.str, "shape": list(data.shape)}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: to_torch(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_torch(v) for v in value]
    return value


def to_numpy(value: Any) -> Any:
    """The inverse of `to_torch` for a loaded checkpoint: stored arrays become numpy arrays again."""
    if isinstance(value, dict):
        if _ARRAY_KEY in value:
            flat = np.frombuffer(zlib.decompress(value[_ARRAY_KEY]), dtype=np.dtype(value["dtype"]))
            return flat.reshape(value["shape"]).copy()
        return {k: to_numpy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_numpy(v) for v in value]
    return value


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """torch.save `state` to a temp file beside `path`, then rename it into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(to_torch({"format": CHECKPOINT_FORMAT, **state}), tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint written by save_checkpoint, arrays as numpy."""
    return to_numpy(torch.load(path, weights_only=True))


def newest_checkpoint(paths: RunPaths) -> Path | None:
    """The checkpoint of the highest window id in the run, if any."""
    found = sorted(paths.checkpoints_dir.glob("ckpt_[0-9]*.pt"))
    return found[-1] if found else None
