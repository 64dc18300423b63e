"""Restart safety and death detection: trainers outlive the server, a new server adopts them,
dead runs never stay `running`, and queued runs survive a restart."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.serving import Server, wait_for
from tests.support import (
    LONG,
    SHORT,
    config_flags,
    file_windows,
    follow,
    hand_made_run,
    run_status,
    trainer_argv,
    window_ids,
)
from trainer.rundir import RunPaths, RunStatus, read_metadata, utc_now

# Long enough to outlive a server restart, short enough to finish soon after.
MEDIUM = {**SHORT, "total_env_steps": 400_000}


def _trainer_pid(server: Server, run_id: str) -> int:
    paths = RunPaths(server.runs_root / run_id)
    return wait_for(lambda: read_metadata(paths).pid, 60, f"the trainer pid of {run_id}")


def _start_running(client: httpx.Client, run_id: str, config: dict) -> None:
    assert client.post("/runs", json={**config, "run_id": run_id}).status_code == 201
    wait_for(lambda: client.get(f"/runs/{run_id}").json()["windows_emitted"] >= 1, 60, f"a window of {run_id}")


def test_a_killed_trainer_is_marked_interrupted_within_5_s(module_server: Server) -> None:
    with module_server.client() as client:
        _start_running(client, "victim", LONG)
        os.kill(_trainer_pid(module_server, "victim"), signal.SIGKILL)
        killed_at = time.monotonic()
        wait_for(lambda: run_status(client, "victim") == "interrupted", 5, "the run to be interrupted")
        run = client.get("/runs/victim").json()
        events = follow(client, "victim")
    assert time.monotonic() - killed_at <= 5
    assert "SIGKILL" in run["error"] and run["exit_code"] == -signal.SIGKILL
    assert events[-1].json() == {"status": "interrupted"}


def test_killed_server_restarts_and_follows_the_same_run_to_completed(make_server) -> None:
    first = make_server()
    with first.client() as client:
        _start_running(client, "survivor", MEDIUM)
        before = follow(client, "survivor", stop_after_windows=1)
        trainer_pid = _trainer_pid(first, "survivor")
    first.kill()
    os.kill(trainer_pid, 0)  # the trainer outlived its server

    second = make_server()
    with second.client() as client:
        assert run_status(client, "survivor") == "running"
        after = follow(client, "survivor", headers={"Last-Event-ID": str(window_ids(before)[-1])})
    assert after[-1].json() == {"status": "completed"}
    assert window_ids(before) + window_ids(after) == [w["window_id"] for w in file_windows(second.runs_root, "survivor")]


def _open_gate(gate: Path, word: str) -> None:
    """Say `word` to the command waiting at the FIFO `gate` ("go": start the trainer); nothing if none waits."""
    try:
        fd = os.open(gate, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno != errno.ENXIO:  # ENXIO: nobody has the gate open for reading
            raise
        return
    with os.fdopen(fd, "w") as opened:
        opened.write(word + "\n")


def test_a_trainer_still_starting_when_the_server_died_is_adopted(make_server, tmp_path) -> None:
    """The trainer command waits at a gate (a FIFO) before it becomes the trainer, so both servers
    see the run `starting`, its pid alive but the lock not yet taken, however slow the machine."""
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    command = tmp_path / "gated-trainer"
    command.write_text(f'#!/bin/sh\nread word < "{gate}"\n[ "$word" = go ] || exit 1\n'
                       f'exec "{sys.executable}" -m trainer "$@"\n')
    command.chmod(0o755)
    try:
        first = make_server(trainer_command=command)
        with first.client() as client:
            assert client.post("/runs", json={**SHORT, "run_id": "early"}).status_code == 201
        assert read_metadata(RunPaths(first.runs_root / "early")).pid is not None  # recorded before the 201
        first.kill()
        second = make_server()
        with second.client() as client:
            assert run_status(client, "early") == "starting"
            _open_gate(gate, "go")
            events = follow(client, "early")
    finally:
        _open_gate(gate, "stop")  # a command still waiting (the test failed first) gives up
    assert events[-1].json() == {"status": "completed"}


def test_a_restarted_server_can_cancel_and_detect_the_death_of_adopted_trainers(make_server) -> None:
    first = make_server(max_concurrent_runs=2)
    with first.client() as client:
        _start_running(client, "adopt-cancel", LONG)
        _start_running(client, "adopt-kill", LONG)
    first.kill()
    second = make_server(max_concurrent_runs=2)
    with second.client() as client:
        assert client.post("/runs/adopt-cancel/cancel").status_code == 202
        wait_for(lambda: run_status(client, "adopt-cancel") == "cancelled", 30, "the adopted run to be cancelled")
        os.kill(_trainer_pid(second, "adopt-kill"), signal.SIGKILL)
        wait_for(lambda: run_status(client, "adopt-kill") == "interrupted", 5, "the adopted run to be interrupted")


def test_start_up_marks_orphaned_runs_interrupted_and_resumes_the_queue(make_server, tmp_path) -> None:
    runs_root = tmp_path / "runs"
    hand_made_run(runs_root, "orphan", RunStatus.running, queued_at=utc_now(), launch="fresh")
    hand_made_run(runs_root, "waiting-2", RunStatus.queued, queued_at="2030-01-02T00:00:00.000Z", launch="fresh")
    hand_made_run(runs_root, "waiting-1", RunStatus.queued, queued_at="2030-01-01T00:00:00.000Z", launch="fresh")
    server = make_server()
    with server.client() as client:
        orphan = client.get("/runs/orphan").json()
        assert orphan["status"] == "interrupted" and orphan["error"]
        wait_for(lambda: run_status(client, "waiting-2") == "completed", 60, "the queue to drain")
        first, second = (client.get(f"/runs/waiting-{i}").json() for i in (1, 2))
    assert first["status"] == "completed"
    assert first["finished_at"] <= second["started_at"]


def _trainer_by_hand(server: Server, run_id: str) -> subprocess.Popen[bytes]:
    args = trainer_argv(server.runs_root, "--run-id", run_id, *config_flags(LONG))
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def test_runs_started_by_hand_are_watched_and_can_be_cancelled(module_server: Server) -> None:
    cancelled, killed = _trainer_by_hand(module_server, "by-hand-1"), _trainer_by_hand(module_server, "by-hand-2")
    with module_server.client() as client:
        for run_id in ("by-hand-1", "by-hand-2"):
            wait_for(lambda: client.get(f"/runs/{run_id}").status_code == 200
                     and client.get(f"/runs/{run_id}").json()["windows_emitted"] >= 1, 60, f"{run_id} to run")
        assert client.post("/runs/by-hand-1/cancel").status_code == 202
        assert cancelled.wait(30) != 0
        wait_for(lambda: run_status(client, "by-hand-1") == "cancelled", 10, "the run to be cancelled")
        killed.kill()
        killed.wait()
        wait_for(lambda: run_status(client, "by-hand-2") == "interrupted", 15, "the stray run to be interrupted")
