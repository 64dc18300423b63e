"""A file's stamp: (inode, mtime_ns, size). It changes whenever the file is replaced (a rename
into place) or rewritten, so the service's caches re-read a file only when its stamp changed."""

from __future__ import annotations

import os
from pathlib import Path

FileStamp = tuple[int, int, int]


def stamp_of(st: os.stat_result) -> FileStamp:
    """The stamp of a stat result (e.g. of an open file's fstat)."""
    return st.st_ino, st.st_mtime_ns, st.st_size


def file_stamp(path: Path) -> FileStamp | None:
    """The stamp of the file at `path`, None if there is none."""
    try:
        return stamp_of(os.stat(path))
    except FileNotFoundError:
        return None
