"""The run-directory contract helpers: status transitions, atomic JSON, whole-line JSONL, lock."""

import json

import pytest

from trainer.rundir import (
    InvalidTransition,
    JsonlAppender,
    RunLock,
    RunPaths,
    RunStatus,
    check_transition,
    is_run_live,
    read_complete_lines,
    validate_run_id,
    write_json_atomic,
)


def test_terminal_status_cannot_be_left_without_resume():
    with pytest.raises(InvalidTransition):
        check_transition(RunStatus.completed, RunStatus.running)
    check_transition(RunStatus.cancelled, RunStatus.queued, resuming=True)


def test_running_cannot_go_back_to_queued():
    with pytest.raises(InvalidTransition):
        check_transition(RunStatus.running, RunStatus.queued)


@pytest.mark.parametrize("bad", ["../x", "", ".hidden", "a/b", "a..b", "x" * 65])
def test_bad_run_ids_are_refused(bad):
    with pytest.raises(ValueError):
        validate_run_id(bad)


def test_atomic_json_leaves_no_temp_file(tmp_path):
    target = tmp_path / "meta.json"
    write_json_atomic(target, {"a": 1})
    write_json_atomic(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["meta.json"]


def test_reader_skips_a_line_without_newline(tmp_path):
    path = tmp_path / "w.jsonl"
    writer = JsonlAppender(path)
    writer.append({"window_id": 0})
    writer.close()
    with open(path, "ab") as f:
        f.write(b'{"window_id": 1')
    lines, offset = read_complete_lines(path)
    assert [json.loads(x) for x in lines] == [{"window_id": 0}]
    with open(path, "ab") as f:
        f.write(b"}\n")
    more, _ = read_complete_lines(path, offset)
    assert [json.loads(x) for x in more] == [{"window_id": 1}]


def test_lock_tells_live_from_dead(tmp_path):
    paths = RunPaths(tmp_path)
    assert not is_run_live(paths)
    lock = RunLock(paths)
    assert lock.acquire()
    assert is_run_live(paths)
    assert not RunLock(paths).acquire(timeout_s=0.05)
    lock.release()
    assert not is_run_live(paths)
