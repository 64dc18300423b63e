"""The run store: the service's cached view of the run root, rebuilt from the files at any time.

Every run is a directory under the run root; its run_metadata.json is parsed once per change
(keyed on inode, mtime and size), so listing 10,000 runs re-reads only what changed.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import shutil
import time
from bisect import bisect_left
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from trainer.config import TrainConfig
from trainer.rundir import (
    TERMINAL_STATUSES,
    RunMetadata,
    RunPaths,
    RunStatus,
    update_status,
    utc_now,
    write_json_atomic,
    write_metadata,
)

log = logging.getLogger(__name__)

# (inode, mtime_ns, size): changes whenever run_metadata.json is replaced or rewritten.
Stamp = tuple[int, int, int]
# Runs sort newest first on (created_at, run_id); a cursor is the key of the last run returned.
SortKey = tuple[str, str]


class InvalidCursor(ValueError):
    """A `cursor` query parameter that this service did not hand out."""


def encode_cursor(key: SortKey) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> SortKey:
    """The sort key inside a cursor; raises InvalidCursor if it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, run_id = json.loads(raw)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise InvalidCursor("cursor is not one returned by GET /runs") from exc
    if not isinstance(created_at, str) or not isinstance(run_id, str):
        raise InvalidCursor("cursor is not one returned by GET /runs")
    return created_at, run_id


@dataclass
class _Entry:
    stamp: Stamp
    meta: RunMetadata


def _stamp(path: Path) -> Stamp | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


class RunStore:
    """Reads and creates run directories; caches each run's metadata until its file changes."""

    def __init__(self, root: Path, full_recheck_s: float = 1.0) -> None:
        self.root = Path(root)
        self._full_recheck_s = full_recheck_s
        self._entries: dict[str, _Entry] = {}
        self._pending: set[str] = set()  # directories whose metadata is missing or unreadable
        self._root_mtime_ns: int | None = None
        self._last_full = 0.0
        self._order: list[SortKey] = []  # ascending; iterated backwards for newest first
        self._order_dirty = True

    def paths(self, run_id: str) -> RunPaths:
        """The run's paths; raises ValueError for an unsafe run id."""
        return RunPaths.of(self.root, run_id)

    def get(self, run_id: str) -> RunMetadata | None:
        """The run's current metadata, or None if there is no such run (or it is not readable)."""
        self._load(run_id)
        entry = self._entries.get(run_id)
        return entry.meta if entry else None

    def read_config(self, run_id: str) -> TrainConfig | None:
        """The run's config.json as a TrainConfig, or None if it is missing or unreadable."""
        try:
            return TrainConfig.model_validate_json(self.paths(run_id).config.read_bytes())
        except (FileNotFoundError, ValidationError):
            return None

    def create(self, run_id: str, config: TrainConfig) -> RunMetadata:
        """Make the run directory with config.json and `queued` metadata.

        Raises FileExistsError if the directory exists (the caller decides about idempotency).
        """
        self.root.mkdir(parents=True, exist_ok=True)
        paths = self.paths(run_id)
        paths.root.mkdir()
        paths.make_dirs()
        write_json_atomic(paths.config, config.model_dump(mode="json"))
        now = utc_now()
        meta = RunMetadata(
            run_id=run_id,
            status=RunStatus.queued,
            trainer_backend=config.trainer_backend,
            seed=config.seed,
            target_env_steps=config.total_env_steps,
            window_env_steps=config.window_env_steps,
            created_at=now,
            updated_at=now,
            queued_at=now,
            launch="fresh",
        )
        write_metadata(paths, meta)
        self._load(run_id)
        return meta

    def set_status(
        self, run_id: str, new: RunStatus, *, resuming: bool = False, **changes: Any
    ) -> RunMetadata:
        """Change a run's status through the single status writer and refresh the cache."""
        meta = update_status(self.paths(run_id), new, resuming=resuming, **changes)
        self._load(run_id)
        return meta

    def delete(self, run_id: str) -> None:
        """Remove the run's directory and forget it."""
        shutil.rmtree(self.paths(run_id).root)
        self._forget(run_id)

    def all(self) -> list[RunMetadata]:
        """Every readable run, oldest first."""
        self._refresh()
        return [self._entries[run_id].meta for _, run_id in self._sorted()]

    def page(
        self,
        *,
        limit: int,
        cursor: str | None = None,
        status: RunStatus | None = None,
        backend: str | None = None,
    ) -> tuple[list[RunMetadata], str | None]:
        """Runs newest first after `cursor`, filtered; returns them and the next cursor (or None)."""
        self._refresh()
        order = self._sorted()
        # Runs strictly older than the cursor's run sort before it.
        end = bisect_left(order, decode_cursor(cursor)) if cursor else len(order)
        items: list[RunMetadata] = []
        for index in range(end - 1, -1, -1):
            meta = self._entries[order[index][1]].meta
            if (status is None or meta.status == status) and (
                backend is None or meta.trainer_backend == backend
            ):
                if len(items) == limit:
                    return items, encode_cursor(_key(items[-1]))
                items.append(meta)
        return items, None

    def _sorted(self) -> list[SortKey]:
        if self._order_dirty:
            self._order = sorted(_key(entry.meta) for entry in self._entries.values())
            self._order_dirty = False
        return self._order

    def _refresh(self) -> None:
        """Bring the cache up to date: new and removed directories, and changed metadata.

        Live runs are re-checked on every call; terminal ones at most every `full_recheck_s`.
        """
        root_stamp = _stamp(self.root)
        if root_stamp is None:
            for run_id in list(self._entries):
                self._forget(run_id)
            return
        if root_stamp[1] != self._root_mtime_ns:
            self._root_mtime_ns = root_stamp[1]
            names = {e.name for e in os.scandir(self.root) if e.is_dir() and not e.name.startswith(".")}
            for run_id in set(self._entries) - names:
                self._forget(run_id)
            self._pending &= names
            self._pending |= names - set(self._entries)
        now = time.monotonic()
        full = now - self._last_full >= self._full_recheck_s
        if full:
            self._last_full = now
        for run_id in list(self._pending):
            self._load(run_id)
        for run_id, entry in list(self._entries.items()):
            if full or entry.meta.status not in TERMINAL_STATUSES:
                self._load(run_id)

    def _load(self, run_id: str) -> None:
        """Re-read one run's metadata if its file changed since it was cached."""
        try:
            path = self.paths(run_id).metadata
        except ValueError:
            return
        stamp = _stamp(path)
        if stamp is None:
            if run_id in self._entries:
                self._forget(run_id)
                self._pending.add(run_id)
            return
        entry = self._entries.get(run_id)
        if entry is not None and entry.stamp == stamp:
            return
        try:
            meta = RunMetadata.model_validate_json(path.read_bytes())
        except (FileNotFoundError, ValidationError) as exc:
            log.warning("run %s: unreadable run_metadata.json: %s", run_id, exc)
            self._pending.add(run_id)
            return
        if entry is None or _key(entry.meta) != _key(meta):
            self._order_dirty = True
        self._entries[run_id] = _Entry(stamp, meta)
        self._pending.discard(run_id)

    def _forget(self, run_id: str) -> None:
        if self._entries.pop(run_id, None) is not None:
            self._order_dirty = True
        self._pending.discard(run_id)


def _key(meta: RunMetadata) -> SortKey:
    return meta.created_at, meta.run_id

