"""Cancelling trainers the server did not start: one started by a script (so it leads no process
group of its own), and one that cannot be signalled at all (the cancel must say so)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from app.store import RunStore
from tests.serving import Server, wait_for
from tests.support import LONG, config_flags, run_status
from trainer.config import TrainConfig
from trainer.rundir import RunLock, RunPaths, RunStatus, read_metadata, update_status


def test_a_trainer_started_by_a_script_is_cancelled_though_it_leads_no_process_group(
    module_server: Server, tmp_path
) -> None:
    script = tmp_path / "train.sh"
    script.write_text(f'#!/bin/sh\n"{sys.executable}" -m trainer "$@"\necho "the trainer exited with $?"\n')
    script.chmod(0o755)
    args = [str(script), "--run-root", str(module_server.runs_root), "--run-id", "scripted"]
    args += config_flags(LONG)
    wrapper = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
    paths = RunPaths(module_server.runs_root / "scripted")
    try:
        with module_server.client() as client:
            wait_for(lambda: paths.metadata.exists() and read_metadata(paths).windows_emitted >= 1, 60, "a window")
            trainer_pid = read_metadata(paths).pid
            assert os.getpgid(trainer_pid) == wrapper.pid != trainer_pid  # the script leads the group
            cancelled = client.post("/runs/scripted/cancel")
            assert cancelled.status_code == 202, cancelled.text
            output, _ = wrapper.communicate(timeout=30)  # the script goes on once its trainer has stopped
            wait_for(lambda: run_status(client, "scripted") == "cancelled", 10, "the run to be cancelled")
            run = client.get("/runs/scripted").json()
    finally:
        if wrapper.poll() is None:
            os.killpg(wrapper.pid, signal.SIGKILL)
            wrapper.wait()
    assert output.decode().splitlines()[-1] == f"the trainer exited with {128 + signal.SIGTERM}"
    assert (run["exit_code"], run["error"], run["error_kind"]) == (128 + signal.SIGTERM, None, None)


def test_a_cancel_that_cannot_signal_the_trainer_says_so(module_server: Server) -> None:
    """The run's lock is held (here by the test) but its metadata names no trainer pid."""
    RunStore(module_server.runs_root).create("unsignallable", TrainConfig())
    paths = RunPaths(module_server.runs_root / "unsignallable")
    lock = RunLock(paths)
    assert lock.acquire()
    try:
        update_status(paths, RunStatus.starting)
        update_status(paths, RunStatus.running)
        with module_server.client() as client:
            response = client.post("/runs/unsignallable/cancel")
            run = client.get("/runs/unsignallable").json()
    finally:
        lock.release()
    assert response.status_code == 409
    assert "cancel failed" in response.json()["detail"] and "no trainer pid" in response.json()["detail"]
    assert (run["status"], run["error_kind"]) == ("running", "cancel_failed")
    assert "no trainer pid" in run["error"]
