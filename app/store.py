"""The run store: the service's cached view of the run root, rebuilt from the files at any time.

Every run is a directory under the run root; its run_metadata.json is parsed once per change
(keyed on inode, mtime and size), so listing 10,000 runs re-reads only what changed. A file
that does not parse makes the run `corrupt` (listed, deletable, warned about once per change).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import shutil
import time
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from app.filestamp import FileStamp, file_stamp
from app.run_errors import RunConflict, RunExists, RunNotFound
from trainer.config import Milestone, TrainConfig, saved_config
from trainer.rundir import (
    TERMINAL_STATUSES,
    RunMetadata,
    RunPaths,
    RunStatus,
    config_fields,
    update_status,
    utc_now,
    write_json_atomic,
    write_metadata,
)
from trainer.window_record import WindowRecord

log = logging.getLogger(__name__)

# The fields runs can be listed by; a leading "-" in a sort means descending.
SortField = Literal["created_at", "updated_at", "run_id"]
SORT_FIELDS: tuple[SortField, ...] = ("created_at", "updated_at", "run_id")
RunSort = Literal["created_at", "-created_at", "updated_at", "-updated_at", "run_id", "-run_id"]
# Runs sort on (field value, run_id); a cursor holds the sort and the key of the last run returned.
SortKey = tuple[str, str]

CORRUPT = "corrupt"


@dataclass(frozen=True)
class CorruptRun:
    """A run directory whose run_metadata.json is not valid run metadata."""

    run_id: str
    error: str
    created_at: str  # the file's mtime: the run's own times are in the unreadable file
    updated_at: str
    status: Literal["corrupt"] = CORRUPT


Run = RunMetadata | CorruptRun


class InvalidCursor(ValueError):
    """A `cursor` query parameter that this service did not hand out (for this sort)."""


def encode_cursor(sort: str, key: SortKey) -> str:
    return base64.urlsafe_b64encode(json.dumps([sort, *key]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> SortKey:
    """The sort key inside a cursor; raises InvalidCursor if it is not one of ours for `sort`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        cursor_sort, value, run_id = json.loads(raw)
    except (binascii.Error, ValueError, TypeError, RecursionError) as exc:
        raise InvalidCursor("not a cursor returned by GET /runs") from exc
    if not isinstance(value, str) or not isinstance(run_id, str):
        raise InvalidCursor("not a cursor returned by GET /runs")
    if cursor_sort != sort:
        raise InvalidCursor(f"this cursor continues a listing with sort={cursor_sort!r}, not {sort!r}")
    return value, run_id


@dataclass
class _Entry:
    stamp: FileStamp
    meta: Run


class RunStore:
    """Reads and creates run directories; caches each run's metadata until its file changes."""

    def __init__(self, root: Path, full_recheck_s: float = 1.0) -> None:
        self.root = Path(root)
        self._full_recheck_s = full_recheck_s
        self._entries: dict[str, _Entry] = {}
        self._pending: set[str] = set()  # directories without a run_metadata.json (yet)
        self._root_mtime_ns: int | None = None
        self._last_full = 0.0
        self._orders: dict[SortField, list[SortKey]] = {}  # ascending; dropped when a key changes

    def paths(self, run_id: str) -> RunPaths:
        """The run's paths; raises ValueError for an unsafe run id."""
        return RunPaths.of(self.root, run_id)

    def get(self, run_id: str) -> RunMetadata | None:
        """The run's current metadata, or None if there is no such run (or it is corrupt)."""
        run = self.lookup(run_id)
        return run if isinstance(run, RunMetadata) else None

    def lookup(self, run_id: str) -> Run | None:
        """The run's current metadata, a CorruptRun, or None if there is no such run."""
        self._load(run_id)
        entry = self._entries.get(run_id)
        return entry.meta if entry else None

    def read_config(self, run_id: str) -> TrainConfig | None:
        """The run's config.json as a TrainConfig, or None if it is missing or unreadable."""
        try:
            # Accepted when the run was made: today's limits do not apply to it.
            saved = json.loads(self.paths(run_id).config.read_bytes())
            return TrainConfig.model_validate(saved_config(saved), context={"limits": None})
        except (FileNotFoundError, ValueError, TypeError):
            return None

    def create(self, run_id: str, config: TrainConfig) -> RunMetadata:
        """Make the run directory with config.json and `queued` metadata.

        Raises RunExists if the directory exists (the caller decides about idempotency).
        """
        self.root.mkdir(parents=True, exist_ok=True)
        paths = self.paths(run_id)
        try:
            paths.root.mkdir()
        except FileExistsError:
            raise RunExists(f"run {run_id} already exists") from None
        paths.make_dirs()
        write_json_atomic(paths.config, config.model_dump(mode="json"))
        now = utc_now()
        meta = RunMetadata(
            run_id=run_id,
            status=RunStatus.queued,
            **config_fields(config),
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
        """Remove the run's directory and forget it (RunNotFound if it is gone already)."""
        try:
            shutil.rmtree(self.paths(run_id).root)
        except FileNotFoundError:
            raise RunNotFound(f"no run {run_id}") from None
        finally:
            self._forget(run_id)

    def config_json(self, run_id: str) -> dict[str, Any]:
        """The run's config.json as written; RunNotFound if it has none, RunConflict if it is not JSON."""
        try:
            return json.loads(self.paths(run_id).config.read_bytes())
        except FileNotFoundError:
            raise RunNotFound(f"run {run_id} has no config.json") from None
        except ValueError as exc:
            raise RunConflict(f"run {run_id}: config.json is not JSON: {exc}") from None

    def all(self) -> list[RunMetadata]:
        """Every readable run, oldest first (corrupt ones left out)."""
        return [run for run in self._all_runs() if isinstance(run, RunMetadata)]

    def corrupt(self) -> list[CorruptRun]:
        """Every run whose metadata does not parse, oldest first."""
        return [run for run in self._all_runs() if isinstance(run, CorruptRun)]

    def _all_runs(self) -> list[Run]:
        self._refresh()
        return [self._entries[run_id].meta for _, run_id in self._sorted("created_at")]

    def page(
        self,
        *,
        limit: int,
        cursor: str | None = None,
        sort: RunSort = "-created_at",
        status: str | None = None,
        backend: str | None = None,
        run_id_prefix: str | None = None,
        milestone: Milestone | str | None = None,
    ) -> tuple[list[Run], str | None]:
        """Runs in `sort` order (a field of SORT_FIELDS, "-" first for descending) after `cursor`,
        filtered (`milestone`: runs that reached it, or any threshold of a metric given alone);
        returns them and the next cursor (or None). Raises InvalidCursor."""
        field: SortField = _sort_field(sort)
        self._refresh()
        order = self._sorted(field)
        after = decode_cursor(cursor, sort) if cursor else None
        if sort.startswith("-"):
            end = bisect_left(order, after) if after else len(order)
            indices = range(end - 1, -1, -1)
        else:
            indices = range(bisect_right(order, after) if after else 0, len(order))
        items: list[Run] = []
        for index in indices:
            run = self._entries[order[index][1]].meta
            if _matches(run, status, backend, run_id_prefix) and _reached(run, milestone):
                if len(items) == limit:
                    return items, encode_cursor(sort, _key(items[-1], field))
                items.append(run)
        return items, None

    def _sorted(self, field: SortField) -> list[SortKey]:
        order = self._orders.get(field)
        if order is None:
            order = self._orders[field] = sorted(_key(entry.meta, field) for entry in self._entries.values())
        return order

    def _refresh(self) -> None:
        """Bring the cache up to date: new and removed directories, and changed metadata.

        Live runs are re-checked on every call; terminal ones at most every `full_recheck_s`.
        """
        root_stamp = file_stamp(self.root)
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
            if full or entry.meta.status not in TERMINAL_STATUSES | {CORRUPT}:
                self._load(run_id)

    def _load(self, run_id: str) -> None:
        """Re-read one run's metadata if its file changed since it was cached."""
        try:
            path = self.paths(run_id).metadata
        except ValueError:
            return
        stamp = file_stamp(path)
        if stamp is None:
            if run_id in self._entries:
                self._forget(run_id)
                self._pending.add(run_id)
            return
        entry = self._entries.get(run_id)
        if entry is not None and entry.stamp == stamp:
            return
        meta: Run
        try:
            meta = _read_metadata(path)
        except FileNotFoundError:
            self._pending.add(run_id)
            return
        except ValueError as exc:
            error = f"run_metadata.json is not valid run metadata: {exc}"
            log.warning("run %s: %s; it is listed as corrupt until the file changes", run_id, error)
            mtime = _iso(stamp[1])
            meta = CorruptRun(run_id, error, created_at=mtime, updated_at=mtime)
        for field in SORT_FIELDS:
            if entry is None or _key(entry.meta, field) != _key(meta, field):
                self._orders.pop(field, None)
        self._entries[run_id] = _Entry(stamp, meta)
        self._pending.discard(run_id)

    def _forget(self, run_id: str) -> None:
        if self._entries.pop(run_id, None) is not None:
            self._orders.clear()
        self._pending.discard(run_id)


def _read_metadata(path: Path) -> RunMetadata:
    """The metadata in `path`; ValueError naming the first bad field (its latest_window included)."""
    where: tuple[str, ...] = ()
    try:
        meta = RunMetadata.model_validate_json(path.read_bytes())
        if meta.latest_window is not None:
            where = ("latest_window",)
            WindowRecord.model_validate(meta.latest_window)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc = ".".join(map(str, (*where, *first["loc"])))
        raise ValueError(f"{loc + ': ' if loc else ''}{first['msg']}") from None
    return meta


def _sort_field(sort: str) -> SortField:
    field = sort.removeprefix("-")
    for known in SORT_FIELDS:
        if field == known:
            return known
    raise ValueError(f"sort must be one of {', '.join(SORT_FIELDS)}, optionally prefixed with '-'")


def _key(run: Run, field: SortField) -> SortKey:
    return getattr(run, field), run.run_id


def _matches(run: Run, status: str | None, backend: str | None, run_id_prefix: str | None) -> bool:
    if status is not None and run.status != status:
        return False
    if backend is not None and not (isinstance(run, RunMetadata) and run.trainer_backend == backend):
        return False
    return run_id_prefix is None or run.run_id.startswith(run_id_prefix)


def _reached(run: Run, milestone: Milestone | str | None) -> bool:
    """Whether `run` reached `milestone` (a metric alone: any of its thresholds)."""
    if milestone is None:
        return True
    if not isinstance(run, RunMetadata):
        return False
    for reached in run.milestones_reached:
        if isinstance(milestone, str):
            if reached.metric == milestone:
                return True
        elif (reached.metric, reached.threshold) == (milestone.metric, milestone.threshold):
            return True
    return False


def _iso(mtime_ns: int) -> str:
    moment = datetime.fromtimestamp(mtime_ns / 1e9, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

