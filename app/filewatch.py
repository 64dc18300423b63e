"""Watching the files of followed runs with watchfiles (inotify on Linux), in one thread for all.

Each followed run is watched through two directories, neither recursively: the run directory
(run_metadata.json is replaced by a rename into it) and metrics/ (windows.jsonl is appended to).
When the set of runs changes, the watcher restarts on the new set; changes the old watcher saw
but had not reported yet are dropped then, so a restart is reported as "anything may have
changed". If the watcher cannot run (no inotify, out of watches), it says so once and waits
for the next change of the set; the caller's slow stat-poll covers the runs meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Iterable

from watchfiles import Change, awatch

from trainer.rundir import RunPaths

log = logging.getLogger(__name__)

WATCHED_FILES = frozenset({"run_metadata.json", "windows.jsonl"})
# Report a change one step after it is seen, without waiting for the files to be quiet (a window
# line is followed at once by the rewrite of run_metadata.json, which is fsync-ed).
DEBOUNCE_MS = 1

# Called with the ids of the runs whose files changed, or None for "any run may have changed".
OnChange = Callable[[set[str] | None], None]


def _is_watched_file(change: Change, path: str) -> bool:
    return os.path.basename(path) in WATCHED_FILES


class RunFileWatcher:
    """Reports which runs of a changing set had run_metadata.json or windows.jsonl changed."""

    def __init__(self, step_s: float, on_change: OnChange) -> None:
        self._step_ms = max(1, round(step_s * 1000))
        self._on_change = on_change
        self._runs: list[RunPaths] = []
        self._restart = asyncio.Event()
        self._closed = False

    def watch(self, runs: Iterable[RunPaths]) -> None:
        """Watch these runs from now on (the watcher restarts within one step)."""
        self._runs = list(runs)
        self._restart.set()

    def close(self) -> None:
        """Make `run` return within one step."""
        self._closed = True
        self._restart.set()

    async def run(self) -> None:
        """Watch until closed, restarting whenever the set of runs changes."""
        failing = False
        while not self._closed:
            self._restart = restart = asyncio.Event()
            dirs = {
                os.path.abspath(directory): paths.run_id
                for paths in self._runs
                for directory in (paths.root, paths.metrics_dir)
                if directory.is_dir()
            }
            self._on_change(None)
            if not dirs:
                await restart.wait()
                continue
            try:
                async for changes in awatch(
                    *dirs,
                    watch_filter=_is_watched_file,
                    debounce=DEBOUNCE_MS,
                    step=self._step_ms,
                    stop_event=restart,
                    rust_timeout=0,
                    recursive=False,
                ):
                    failing = False
                    self._on_change({dirs[d] for _, path in changes if (d := os.path.dirname(path)) in dirs})
            except (OSError, RuntimeError) as exc:  # RuntimeError: WatchfilesRustInternalError
                if not failing:
                    log.warning("cannot watch the followed runs' files (%s); polling them instead", exc)
                failing = True
                await restart.wait()
