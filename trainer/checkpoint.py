"""Checkpoint files: plain Python values, bytes and tensors only, so `torch.load(weights_only=True)`
can read them. Numpy arrays are stored beside the pickle, each as a member of the file's zip
(`arrays/<k>`, deflated when mostly zeros, else stored as they are), and the pickle holds a
reference to it; `load_checkpoint` gives them back as numpy arrays. Pickle protocol 2, the one
torch.load reads, has no bytes opcode: bytes inside it cost ~7 ms a MiB to write and grow by half,
which at a checkpoint every window was most of a fast run's time. Tensors are stored as torch
stores them. Every file carries `format` (CHECKPOINT_FORMAT); a file of a format this trainer
does not read (READ_FORMATS), or not a checkpoint at all, is refused by name.

A checkpoint without tensors (a random-backend run's) is written and read without torch, whose
import is over a second of such a trainer's start: the file is the one torch.save would write
for it, a zip holding `data.pkl` (pickle protocol 2, torch's) and the records torch.load checks.
Reading unpickles only plain values; anything else (a tensor) is left to torch.load.

Retention: `checkpoints_to_prune` keeps the newest `keep_checkpoints` plus the protected ones
(the best-evaluated and any pinned in run_metadata.json)."""

from __future__ import annotations

import codecs
import io
import pickle
import re
import sys
import zipfile
import zlib
from pathlib import Path
from typing import IO, Any

import numpy as np

from trainer.rundir import RunPaths, replace_atomically

CHECKPOINT_FORMAT = 3
READ_FORMATS = (2, 3)  # format 2 held its arrays inside the pickle, zlib-compressed
_INLINE_ARRAY_KEY = "__ndarray_zlib__"  # format 2
_MEMBER_ARRAY_KEY = "__ndarray_member__"
_ZLIB_LEVEL = 1  # fast; the gain is in the zeros
_SPARSE_ZEROS = 0.75  # the share of zero values from which an array is deflated
_CHECKPOINT_NAME = re.compile(r"ckpt_(\d+)\.pt")
_PLAIN_TYPES = (str, bytes, int, float, bool, type(None))
_TORCH_PICKLE_PROTOCOL = 2  # torch.save's; torch.load(weights_only=True) reads no other


def _with_array_references(value: Any, arrays: list[np.ndarray]) -> Any:
    """`value` with every numpy array in it (also inside dicts and lists) replaced by a
    reference to member `arrays/<k>`, the array appended to `arrays` as k, and numpy scalars as
    Python values: what `torch.load(weights_only=True)` accepts."""
    if isinstance(value, np.ndarray):
        arrays.append(np.ascontiguousarray(value))
        return {_MEMBER_ARRAY_KEY: f"arrays/{len(arrays) - 1}", "dtype": value.dtype.str, "shape": list(value.shape)}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: _with_array_references(v, arrays) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_with_array_references(v, arrays) for v in value]
    return value


def _with_arrays(value: Any, archive: zipfile.ZipFile, prefix: str) -> Any:
    """The inverse of `_with_array_references` for a loaded checkpoint (also format 2's inline
    arrays): stored arrays become numpy arrays again."""
    if isinstance(value, dict):
        if _MEMBER_ARRAY_KEY in value or _INLINE_ARRAY_KEY in value:
            data = (
                archive.read(f"{prefix}/{value[_MEMBER_ARRAY_KEY]}")
                if _MEMBER_ARRAY_KEY in value
                else zlib.decompress(value[_INLINE_ARRAY_KEY])
            )
            return np.frombuffer(data, dtype=np.dtype(value["dtype"])).reshape(value["shape"]).copy()
        return {k: _with_arrays(v, archive, prefix) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_arrays(v, archive, prefix) for v in value]
    return value


def _add_arrays(archive: zipfile.ZipFile, arrays: list[np.ndarray]) -> None:
    """Write `arrays` as members arrays/<k> beside the archive's data.pkl: deflated when at least
    _SPARSE_ZEROS of their values are zero (the unvisited slots), else stored. Deflating costs
    ~5 ms a MiB and more for dense floats, which it shrinks by a third; at every window close of
    a fast run that was most of the checkpoint's time."""
    prefix = _record_prefix(archive)
    for k, array in enumerate(arrays):
        sparse = np.count_nonzero(array) <= (1.0 - _SPARSE_ZEROS) * array.size
        archive.writestr(
            f"{prefix}/arrays/{k}",
            memoryview(array.reshape(-1).view(np.uint8)),
            compress_type=zipfile.ZIP_DEFLATED if sparse else zipfile.ZIP_STORED,
            compresslevel=_ZLIB_LEVEL,
        )


def _record_prefix(archive: zipfile.ZipFile) -> str:
    """The folder of the archive's data.pkl (torch names it after the file; ours is `archive`)."""
    pickles = [name for name in archive.namelist() if name.endswith("/data.pkl") and name.count("/") == 1]
    if len(pickles) != 1:
        raise CheckpointError(f"{archive.filename} is not a checkpoint of this trainer (no data.pkl)")
    return pickles[0].split("/")[0]


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write `state` as torch.save would, its numpy arrays as members beside the pickle, to a
    temp file beside `path`, then rename it into place. Not fsync-ed: checkpoints are large and
    frequent, and one a machine crash leaves unreadable is refused by name (CheckpointError)
    rather than misread."""
    arrays: list[np.ndarray] = []
    payload = _with_array_references({"format": CHECKPOINT_FORMAT, **state}, arrays)
    if _is_plain(payload):
        replace_atomically(path, lambda f: _write_plain(payload, arrays, f), fsync=False)
    else:
        replace_atomically(path, lambda f: _write_with_torch(payload, arrays, f), fsync=False)


def _is_plain(value: Any) -> bool:
    """Whether `value` holds nothing but plain values, dicts, lists and tuples."""
    if isinstance(value, dict):
        return all(_is_plain(k) and _is_plain(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v) for v in value)
    return isinstance(value, _PLAIN_TYPES)


def _write_plain(payload: Any, arrays: list[np.ndarray], f: IO[bytes]) -> None:
    """torch.save's file for a payload without tensors, and the arrays."""
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", pickle.dumps(payload, protocol=_TORCH_PICKLE_PROTOCOL))
        archive.writestr("archive/byteorder", sys.byteorder)
        archive.writestr("archive/version", "3\n")
        _add_arrays(archive, arrays)


def _write_with_torch(payload: Any, arrays: list[np.ndarray], f: IO[bytes]) -> None:
    """torch.save's file for a payload with tensors, the arrays appended to its zip."""
    import torch  # loaded already: the payload holds its tensors

    buffer = io.BytesIO()
    torch.save(payload, buffer)
    with zipfile.ZipFile(buffer, "a") as archive:
        _add_arrays(archive, arrays)
    f.write(buffer.getbuffer())


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


def _read_plain(archive: zipfile.ZipFile, prefix: str) -> Any:
    """The payload of a checkpoint without tensors (_NeedsTorch for one with them)."""
    with archive.open(f"{prefix}/data.pkl") as data:
        return _PlainUnpickler(data).load()


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint written by save_checkpoint, arrays as numpy; CheckpointError if the
    file is not one, or is of a format not in READ_FORMATS."""
    try:
        with zipfile.ZipFile(path) as archive:
            prefix = _record_prefix(archive)
            try:
                raw = _read_plain(archive, prefix)
            except _NeedsTorch:
                import torch  # tensors: a puffer_ppo checkpoint, read by the process that trains it

                raw = torch.load(path, weights_only=True)
            found = raw.get("format") if isinstance(raw, dict) else None
            if found not in READ_FORMATS:
                raise CheckpointError(
                    f"{path} has checkpoint format {found!r}; this trainer reads formats {READ_FORMATS} only"
                )
            return _with_arrays(raw, archive, prefix)
    except (zipfile.BadZipFile, pickle.UnpicklingError, EOFError, RuntimeError, KeyError, zlib.error) as exc:
        raise CheckpointError(f"{path} is not a checkpoint of this trainer ({type(exc).__name__})") from exc


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
