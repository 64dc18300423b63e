"""Checkpoint files: plain Python values, bytes and tensors only, so `torch.load(weights_only=True)`
can read them. Numpy arrays are stored zlib-compressed (the env state is mostly zeros) and come
back as numpy arrays; tensors are stored as they are. Every file carries `format`
(CHECKPOINT_FORMAT); a file of another format, or not a checkpoint at all, is refused by name.

Retention: `checkpoints_to_prune` keeps the newest `keep_checkpoints` plus the protected ones
(the best-evaluated and any pinned in run_metadata.json)."""

from __future__ import annotations

import pickle
import re
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trainer.rundir import RunPaths, replace_atomically

CHECKPOINT_FORMAT = 2
_ARRAY_KEY = "__ndarray_zlib__"
_ZLIB_LEVEL = 1  # fast; the gain is in the zeros
_CHECKPOINT_NAME = re.compile(r"ckpt_(\d+)\.pt")


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
    """torch.save `state` to a temp file beside `path`, then rename it into place. Not fsync-ed:
    checkpoints are large and frequent, and one a machine crash leaves unreadable is refused by
    name (CheckpointError) rather than misread."""
    payload = to_torch({"format": CHECKPOINT_FORMAT, **state})
    replace_atomically(path, lambda f: torch.save(payload, f), fsync=False)


class CheckpointError(ValueError):
    """A file that is not a checkpoint this trainer can read."""


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint written by save_checkpoint, arrays as numpy; CheckpointError if the
    file is not one, or is of another CHECKPOINT_FORMAT."""
    try:
        raw = torch.load(path, weights_only=True)
    except (pickle.UnpicklingError, EOFError, RuntimeError) as exc:
        raise CheckpointError(f"{path} is not a checkpoint of this trainer ({type(exc).__name__})") from exc
    found = raw.get("format") if isinstance(raw, dict) else None
    if found != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path} has checkpoint format {found!r}; this trainer reads format {CHECKPOINT_FORMAT} only"
        )
    return to_numpy(raw)


def checkpoint_ids(paths: RunPaths) -> list[int]:
    """The window ids of the run's checkpoints, ascending."""
    found = (_CHECKPOINT_NAME.fullmatch(p.name) for p in paths.checkpoints_dir.glob("ckpt_*.pt"))
    return sorted(int(match[1]) for match in found if match)


def newest_checkpoint(paths: RunPaths) -> Path | None:
    """The checkpoint of the highest window id in the run, if any."""
    ids = checkpoint_ids(paths)
    return paths.checkpoint(ids[-1]) if ids else None


def checkpoints_to_prune(ids: list[int], keep: int, protected: set[int]) -> list[int]:
    """The checkpoint ids retention deletes: all but the newest `keep` and the `protected`."""
    newest = set(sorted(ids)[-keep:])
    return [i for i in sorted(ids) if i not in newest and i not in protected]
