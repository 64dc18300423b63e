"""An index of one run's metrics/windows.jsonl: window ids and line offsets, grown by whole lines.

Only lines that end in a newline are indexed; a half-written last line waits for the next
`refresh`. Reading windows after an id seeks straight to its line, so nothing is reparsed.
"""

from __future__ import annotations

import json
import logging
import os
from bisect import bisect_right
from collections import OrderedDict
from pathlib import Path

from trainer.rundir import read_complete_lines

log = logging.getLogger(__name__)

Window = tuple[int, bytes]  # (window_id, the line as written, without its newline)


class WindowLog:
    """Single-owner index of a windows.jsonl file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.ids: list[int] = []
        self._starts: list[int] = []
        self.end = 0  # byte offset just past the last indexed line
        self._inode: int | None = None

    def refresh(self) -> list[Window]:
        """Index the whole lines appended since the last call and return them."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return []
        if st.st_ino != self._inode or st.st_size < self.end:  # the run was deleted and made again
            self._inode = st.st_ino
            self.ids, self._starts, self.end = [], [], 0
        lines, new_end = read_complete_lines(self.path, self.end)
        start = self.end
        new: list[Window] = []
        for raw in lines:
            line_start, start = start, start + len(raw) + 1
            window_id = _window_id(raw)
            if window_id is None or (self.ids and window_id <= self.ids[-1]):
                log.warning("%s: skipping line at byte %d (bad or non-increasing window_id)", self.path, line_start)
                continue
            self.ids.append(window_id)
            self._starts.append(line_start)
            new.append((window_id, raw))
        self.end = new_end
        return new

    def last_id(self) -> int | None:
        return self.ids[-1] if self.ids else None

    def after(self, after_id: int, *, limit: int | None = None, upto: int | None = None) -> list[Window]:
        """Indexed windows with id > `after_id`, at most `limit`, from lines ending before `upto`."""
        first = bisect_right(self.ids, after_id)
        last = len(self.ids) if limit is None else min(len(self.ids), first + limit)
        if upto is not None:
            last = min(last, bisect_right(self._starts, upto - 1))
        if first >= last:
            return []
        stop = self._starts[last] if last < len(self._starts) else self.end
        with open(self.path, "rb") as f:
            f.seek(self._starts[first])
            data = f.read(stop - self._starts[first])
        return list(zip(self.ids[first:last], data.split(b"\n")[: last - first]))


def _window_id(raw: bytes) -> int | None:
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    window_id = record.get("window_id") if isinstance(record, dict) else None
    return window_id if isinstance(window_id, int) and not isinstance(window_id, bool) else None


class WindowLogCache:
    """Request-time WindowLogs, one per recently read run (least recently used evicted)."""

    def __init__(self, capacity: int = 256) -> None:
        self._capacity = capacity
        self._logs: OrderedDict[Path, WindowLog] = OrderedDict()

    def get(self, path: Path) -> WindowLog:
        """The up-to-date index of the windows file at `path`."""
        window_log = self._logs.pop(path, None) or WindowLog(path)
        self._logs[path] = window_log
        if len(self._logs) > self._capacity:
            self._logs.popitem(last=False)
        window_log.refresh()
        return window_log

    def forget(self, path: Path) -> None:
        self._logs.pop(path, None)
