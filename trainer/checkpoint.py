"""Checkpoint files: plain Python values and tensors only, so `torch.load(weights_only=True)`
can read them. Numpy arrays are stored as tensors and come back as numpy arrays."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trainer.rundir import RunPaths

CHECKPOINT_FORMAT = 1


def to_torch(value: Any) -> Any:
    """Turn numpy arrays and scalars, also inside dicts and lists, into tensors and Python numbers."""
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: to_torch(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_torch(v) for v in value]
    return value


def to_numpy(value: Any) -> Any:
    """The inverse of `to_torch` for a loaded checkpoint: tensors become numpy arrays."""
    if isinstance(value, torch.Tensor):
        return value.numpy()
    if isinstance(value, dict):
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
