"""The run-directory contract helpers: status transitions, atomic JSON, whole-line JSONL, lock."""

import json

import pytest
from pydantic import ValidationError

from trainer.rundir import (
    InvalidTransition,
    JsonlAppender,
    RunLock,
    RunMetadata,
    RunPaths,
    RunStatus,
    check_transition,
    is_run_live,
    new_run_id,
    read_complete_lines,
    read_metadata,
    replace_atomically,
    update_status,
    validate_run_id,
    write_json_atomic,
    write_metadata,
)


def queued_run(tmp_path, **fields) -> RunPaths:
    paths = RunPaths.of(tmp_path, "r")
    paths.make_dirs()
    now = "2026-01-01T00:00:00.000Z"
    meta = RunMetadata(
        run_id="r", status=RunStatus.queued, trainer_backend="random", seed=0, target_env_steps=10,
        window_env_steps=10, created_at=now, updated_at=now, **fields,
    )  # fmt: skip
    write_metadata(paths, meta)
    return paths


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


def test_the_status_writer_refuses_a_field_the_metadata_does_not_declare(tmp_path):
    paths = queued_run(tmp_path)
    with pytest.raises(TypeError, match="launch_atempt"):
        update_status(paths, RunStatus.starting, launch_atempt=1)
    assert read_metadata(paths).status == RunStatus.queued


def test_the_status_writer_refuses_a_value_of_the_wrong_type(tmp_path):
    paths = queued_run(tmp_path)
    with pytest.raises(ValidationError, match="launch_attempt"):
        update_status(paths, RunStatus.starting, launch_attempt="first")
    assert read_metadata(paths).launch_attempt == 0


def test_launch_and_run_info_fields_are_typed_and_unknown_ones_are_kept(tmp_path):
    paths = queued_run(tmp_path, queued_at="2026-01-01T00:00:01.000Z", launch="resume", written_by_a_newer="x")
    update_status(paths, RunStatus.starting, launcher="local", launch_attempt=2)
    meta = update_status(paths, RunStatus.running, vector_backend="serial", num_workers=2, policy_parameters=7)
    again = read_metadata(paths)
    assert again == meta
    assert (again.launch, again.launcher, again.launch_attempt) == ("resume", "local", 2)
    assert (again.vector_backend, again.num_workers, again.policy_parameters, again.device) == ("serial", 2, 7, None)
    assert json.loads(paths.metadata.read_text())["written_by_a_newer"] == "x"


def test_a_new_run_id_is_valid_and_fresh():
    first, second = new_run_id(), new_run_id()
    assert validate_run_id(first) == first and first != second


@pytest.mark.parametrize("fsync", [True, False])
def test_an_atomic_replace_syncs_only_when_asked_and_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch, fsync):
    synced = []
    monkeypatch.setattr("trainer.rundir.os.fsync", synced.append)
    target = tmp_path / "file"
    replace_atomically(target, lambda f: f.write(b"old"), fsync=fsync)
    assert target.read_bytes() == b"old" and len(synced) == int(fsync)

    def broken(f):
        f.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        replace_atomically(target, broken, fsync=fsync)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["file"]
