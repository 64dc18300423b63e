"""Decoded replay files, shared by requests: each file is read and decompressed once per change
(keyed by its stat), least recently used ones evicted past a byte budget."""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

from app.filestamp import FileStamp, stamp_of
from app.run_errors import RunNotFound
from trainer.replay import ReplayLines


class ReplayCache:
    """ReplayLines by path, reread when the file's inode, mtime or size changes."""

    def __init__(self, budget_bytes: int = 128 * 1024 * 1024) -> None:
        self._budget = budget_bytes
        self._replays: OrderedDict[Path, tuple[FileStamp, ReplayLines]] = OrderedDict()
        self._bytes = 0
        self.reads = 0  # files read and decoded (what the cache saves)

    def get(self, path: Path) -> ReplayLines:
        """The decoded replay at `path` (RunNotFound if the file is gone, trainer.replay.ReplayFormatError)."""
        try:
            f = open(path, "rb")
        except FileNotFoundError:
            raise RunNotFound(f"replay file {path.name} is gone") from None
        with f:
            stamp = stamp_of(os.fstat(f.fileno()))
            cached = self._replays.pop(path, None)
            if cached is not None and cached[0] == stamp:
                self._replays[path] = cached
                return cached[1]
            if cached is not None:
                self._bytes -= cached[1].size
            replay = ReplayLines(f.read(), path.name)
        self.reads += 1
        self._replays[path] = (stamp, replay)
        self._bytes += replay.size
        while self._bytes > self._budget and len(self._replays) > 1:
            _, (_, evicted) = self._replays.popitem(last=False)
            self._bytes -= evicted.size
        return replay
