"""RunStore: creation, cached metadata, newest-first pages with cursors and filters."""

from __future__ import annotations

import os

import pytest

from app.run_errors import RunConflict, RunExists, RunNotFound
from app.store import InvalidCursor, RunStore
from trainer.config import TrainConfig
from trainer.rundir import RunPaths, RunStatus, read_metadata, update_status


def _store_with(tmp_path, count: int) -> RunStore:
    store = RunStore(tmp_path / "runs")
    for index in range(count):
        store.create(f"run-{index:03d}", TrainConfig(seed=index))
    return store


def test_create_writes_config_and_queued_metadata(tmp_path) -> None:
    store = _store_with(tmp_path, 1)
    paths = RunPaths(tmp_path / "runs" / "run-000")
    assert read_metadata(paths).status == RunStatus.queued
    assert store.read_config("run-000") == TrainConfig(seed=0)
    with pytest.raises(RunExists):
        store.create("run-000", TrainConfig())


def test_pages_are_newest_first_and_cursors_neither_skip_nor_repeat(tmp_path) -> None:
    store = _store_with(tmp_path, 7)
    seen, cursor = [], None
    while True:
        items, cursor = store.page(limit=3, cursor=cursor)
        seen += [m.run_id for m in items]
        if cursor is None:
            break
    assert seen == [f"run-{i:03d}" for i in reversed(range(7))]
    _, cursor = store.page(limit=2)
    store.create("run-new", TrainConfig())  # a new run does not shift the pages after a cursor
    items, _ = store.page(limit=2, cursor=cursor)
    assert [m.run_id for m in items] == ["run-004", "run-003"]


def test_filters_and_changes_made_by_another_process_are_seen(tmp_path) -> None:
    store = _store_with(tmp_path, 3)
    update_status(RunPaths(tmp_path / "runs" / "run-001"), RunStatus.cancelled)
    items, _ = store.page(limit=10, status=RunStatus.cancelled)
    assert [m.run_id for m in items] == ["run-001"]
    assert store.page(limit=10, backend="puffer_ppo") == ([], None)


def test_directories_without_metadata_are_skipped_until_they_have_it(tmp_path) -> None:
    store = _store_with(tmp_path, 1)
    (tmp_path / "runs" / "half-made").mkdir()
    assert [m.run_id for m in store.all()] == ["run-000"]
    assert store.get("half-made") is None


def test_unchanged_metadata_is_not_parsed_again(tmp_path, monkeypatch) -> None:
    store = _store_with(tmp_path, 5)
    store.all()
    calls = []
    original = RunStore._load

    def counting(self, run_id):
        stamp_before = self._entries.get(run_id)
        original(self, run_id)
        if self._entries.get(run_id) is not stamp_before:
            calls.append(run_id)

    monkeypatch.setattr(RunStore, "_load", counting)
    store.all()
    assert calls == []
    os.utime(tmp_path / "runs" / "run-002" / "run_metadata.json", ns=(1, 1))
    store._last_full = 0.0
    store.all()
    assert calls == ["run-002"]


def test_a_foreign_cursor_is_refused(tmp_path) -> None:
    with pytest.raises(InvalidCursor):
        _store_with(tmp_path, 1).page(limit=1, cursor="bm9wZQ")


def test_the_store_raises_domain_errors_not_os_errors(tmp_path) -> None:
    store = _store_with(tmp_path, 1)
    paths = RunPaths(tmp_path / "runs" / "run-000")
    paths.config.write_text("{")
    with pytest.raises(RunConflict, match="config.json is not JSON"):
        store.config_json("run-000")
    paths.config.unlink()
    with pytest.raises(RunNotFound, match="has no config.json"):
        store.config_json("run-000")
    store.delete("run-000")
    with pytest.raises(RunNotFound, match="no run run-000"):
        store.delete("run-000")
