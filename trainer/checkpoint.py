"""Checkpoint files: plain Python values, bytes and tensors only, so `torch.load(weights_only=True)`
can read them. Numpy arrays are stored zlib-compressed (the env state is mostly zeros) and come
back as numpy arrays; tensors are stored as they are. Every file carries `format`
(CHECKPOINT_FORMAT); a file of another format, or not a checkpoint at all, is refused by name.

A checkpoint without tensors (a random-backend run's) is written and read without torch, whose
import is over a second of such a trainer's start: the file is the one torch.save would write
for it, a zip holding `data.pkl` (pickle protocol 2, torch's) and the records torch.load checks.
Reading unpickles only plain values; anything else (a tensor) is left to torch.load.

Retention: `checkpoints_to_prune` keeps the newest `keep_checkpoints` plus the protected ones
(the best-evaluated and any pinned in run_metadata.json)."""

from __future__ import annotations

import codecs
import pickle
import re
import sys
import zipfile
import zlib
from pathlib import Path
from typing import IO, Any

import numpy as np

from trainer.rundir import RunPaths, replace_atomically

CHECKPOINT_FORMAT = 2
_ARRAY_KEY = "__ndarray_zlib__"
_ZLIB_LEVEL = 1  # fast; the gain is in the zeros
_CHECKPOINT_NAME = re.compile(r"ckpt_(\d+)\.pt")
_PLAIN_TYPES = (str, bytes, int, float, bool, type(None))
_TORCH_PICKLE_PROTOCOL = 2  # torch.save's; torch.load(weights_only=True) reads no other


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
    """Write `state` as torch.save would to a temp file beside `path`, then rename it into
    place. Not fsync-ed: checkpoints are large and frequent, and one a machine crash leaves
    unreadable is refused by name (CheckpointError) rather than misread."""
    payload = to_torch({"format": CHECKPOINT_FORMAT, **state})
    if _is_plain(payload):
        replace_atomically(path, lambda f: _write_plain(payload, f), fsync=False)
    else:
        import torch  # loaded already: the payload holds its tensors

        replace_atomically(path, lambda f: torch.save(payload, f), fsync=False)


def _is_plain(value: Any) -> bool:
    """Whether `value` holds nothing but plain values, dicts, lists and tuples."""
    if isinstance(value, dict):
        return all(_is_plain(k) and _is_plain(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v) for v in value)
    return isinstance(value, _PLAIN_TYPES)


def _write_plain(payload: Any, f: IO[bytes]) -> None:
    """torch.save's file for a payload without tensors."""
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", pickle.dumps(payload, protocol=_TORCH_PICKLE_PROTOCOL))
        archive.writestr("archive/byteorder", sys.byteorder)
        archive.writestr("archive/version", "3\n")


class CheckpointError(ValueError):
    """A file that is not a checkpoint this trainer can read."""


class _NeedsTorch(Exception):
    """The pickle holds more than plain values: torch.load must read it."""


class _PlainUnpickler(pickle.Unpickler):
    """Builds plain values only; the one global allowed is how protocol 2 spells bytes."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("_codecs", "encode"):
            return codecs.encode
        raise _NeedsTorch

    def persistent_load(self, pid: Any) -> Any:
        raise _NeedsTorch


def _read_plain(path: Path) -> Any:
    """The payload of a checkpoint without tensors (_NeedsTorch for one with them)."""
    with zipfile.ZipFile(path) as archive:
        pickles = [name for name in archive.namelist() if name.endswith("/data.pkl") and name.count("/") == 1]
        if len(pickles) != 1:
            raise CheckpointError(f"{path} is not a checkpoint of this trainer (no data.pkl)")
        with archive.open(pickles[0]) as data:
            return _PlainUnpickler(data).load()


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint written by save_checkpoint, arrays as numpy; CheckpointError if the
    file is not one, or is of another CHECKPOINT_FORMAT."""
    try:
        try:
            raw = _read_plain(path)
        except _NeedsTorch:
            import torch  # tensors: a puffer_ppo checkpoint, read by the process that trains it

            raw = torch.load(path, weights_only=True)
    except (zipfile.BadZipFile, pickle.UnpicklingError, EOFError, RuntimeError) as exc:
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
