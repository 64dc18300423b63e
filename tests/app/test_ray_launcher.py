"""The service with `launcher=ray` against the fake Jobs head (tests/app/fake_ray.py), which runs
each job's entrypoint as a real local process: real server, real trainers, real files.

Some runs use a stand-in trainer script (by run id prefix: `fail-` prints to stderr and exits 3,
`deaf-` ignores SIGTERM, `sleep-` sleeps) where a real trainer would only cost time."""

from __future__ import annotations

import json
import math
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.app.fake_ray import FakeRayHead
from tests.serving import Server, free_port, wait_for
from tests.support import LONG, SHORT, assert_stopped_inside_its_window, file_windows, follow, run_status

RAY_TOKEN = "a-ray-cluster-token"
STAND_IN_TRAINER = f"""#!{sys.executable}
import signal, sys, time
flag = "--run-id" if "--run-id" in sys.argv else "--resume"
run_id = sys.argv[sys.argv.index(flag) + 1].rstrip("/").split("/")[-1]
if run_id.startswith("fail-"):
    print("boom: the stand-in trainer fails", file=sys.stderr)
    sys.exit(3)
if run_id.startswith("deaf-"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
time.sleep(600)
"""


@pytest.fixture
def head(tmp_path: Path) -> Iterator[FakeRayHead]:
    fake = FakeRayHead(free_port(), tmp_path / "fake-ray.log", num_cpus=4, token=RAY_TOKEN).start()
    yield fake
    fake.stop()


@pytest.fixture
def ray_server(make_server: Callable[..., Server], head: FakeRayHead, tmp_path: Path) -> Callable[..., Server]:
    """Start a server with launcher=ray on the fake head, its token read from a file."""
    token_file = tmp_path / "ray_token"
    token_file.write_text(RAY_TOKEN + "\n")

    def make(**settings: Any) -> Server:
        defaults = {"launcher": "ray", "ray_address": head.address, "ray_token_file": token_file,
                    "supervise_poll_s": 0.1, "max_concurrent_runs": 2}
        return make_server(**{**defaults, **settings})

    return make


@pytest.fixture
def stand_in_trainer(tmp_path: Path) -> str:
    script = tmp_path / "stand-in-trainer"
    script.write_text(STAND_IN_TRAINER)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def ray_job(head: FakeRayHead, submission_id: str) -> httpx.Response:
    return httpx.get(f"{head.address}/api/jobs/{submission_id}", headers={"Authorization": f"Bearer {RAY_TOKEN}"})


def test_a_run_is_one_ray_job_that_streams_to_its_end(ray_server: Callable[..., Server], head: FakeRayHead) -> None:
    server = ray_server(stop_grace_s=7.5, ray_entrypoint_num_cpus=0.5)
    with server.client() as client:
        assert client.post("/runs", json={**SHORT, "run_id": "r1"}).status_code == 201
        events = follow(client, "r1")
        # The trainer writes `completed` just before it exits; Ray reports the job's end after.
        run = wait_for(lambda: (r := client.get("/runs/r1").json())["ray_job"]["status"] == "SUCCEEDED" and r,
                       30, "the job's end to be polled")
    assert events[-1].event == "end"
    assert [e.json()["window_id"] for e in events if e.event == "window"] == [0, 1, 2]
    assert (run["status"], run["launcher"]) == ("completed", "ray")
    assert run["ray_job"] == {"submission_id": "r1.1", "status": "SUCCEEDED", "node_id": "fake-node-0",
                              "node_address": "127.0.0.1"}
    job = ray_job(head, "r1.1").json()
    root, log = server.runs_root.resolve(), (server.runs_root / "r1" / "logs" / "trainer.log").resolve()
    assert job["entrypoint"].startswith(f"cd {root} && exec {sys.executable} -m trainer ")
    assert job["entrypoint"].endswith(f" >> {log} 2>&1")
    env_vars = job["runtime_env"]["env_vars"]
    assert env_vars["RAY_JOB_STOP_WAIT_TIME_S"] == str(math.ceil(7.5))
    assert env_vars["OMP_NUM_THREADS"] == "1"
    assert not [name for name in env_vars if name.startswith("PROSPECTOR_")]
    assert (job["entrypoint_num_cpus"], job["metadata"]) == (0.5, {"run_id": "r1", "attempt": "1"})
    assert "completed" in log.read_text()  # the trainer's own output went to the run's log


def test_cancel_stops_the_job_and_the_trainer_saves_its_partial_window(
    ray_server: Callable[..., Server], head: FakeRayHead
) -> None:
    server = ray_server()
    with server.client() as client:
        assert client.post("/runs", json={**LONG, "run_id": "r2"}).status_code == 201
        follow(client, "r2", stop_after_windows=1)
        assert client.post("/runs/r2/cancel").status_code == 202
        wait_for(lambda: run_status(client, "r2") == "cancelled", 30, "the run to be cancelled")
        run = client.get("/runs/r2").json()
    assert_stopped_inside_its_window(run, file_windows(server.runs_root, "r2"))  # SIGTERM reached it
    wait_for(lambda: ray_job(head, "r2.1").json()["status"] == "STOPPED", 30, "the job to end as stopped")


def test_a_trainer_deaf_to_sigterm_is_killed_after_the_grace_period(
    ray_server: Callable[..., Server], head: FakeRayHead, stand_in_trainer: str
) -> None:
    server = ray_server(trainer_command=stand_in_trainer, stop_grace_s=1)
    with server.client() as client:
        assert client.post("/runs", json={**SHORT, "run_id": "deaf-1"}).status_code == 201
        wait_for(lambda: ray_job(head, "deaf-1.1").json()["status"] == "RUNNING", 30, "the job to run")
        assert client.post("/runs/deaf-1/cancel").status_code == 202
        wait_for(lambda: run_status(client, "deaf-1") == "cancelled", 30, "the run to be cancelled")
        run = client.get("/runs/deaf-1").json()
    assert run["error"].startswith("cancelled")  # settled by the server: the trainer could not write it
    assert run["ray_job"]["status"] == "STOPPED"


def test_a_failed_job_fails_the_run_with_its_exit_code_and_log_and_resumes_as_a_new_job(
    ray_server: Callable[..., Server], head: FakeRayHead, stand_in_trainer: str
) -> None:
    server = ray_server(trainer_command=stand_in_trainer)
    with server.client() as client:
        assert client.post("/runs", json={**SHORT, "run_id": "fail-1"}).status_code == 201
        wait_for(lambda: run_status(client, "fail-1") == "failed", 30, "the run to fail")
        failed = client.get("/runs/fail-1").json()
        assert client.post("/runs/fail-1/resume").status_code == 202
        wait_for(lambda: client.get("/runs/fail-1").json()["ray_job"]["status"] == "FAILED"
                 and run_status(client, "fail-1") == "failed", 30, "the resumed run to fail")
        resumed = client.get("/runs/fail-1").json()
    assert failed["exit_code"] == 3
    assert "boom: the stand-in trainer fails" in failed["error"]
    assert failed["ray_job"]["submission_id"] == "fail-1.1"
    assert resumed["ray_job"]["submission_id"] == "fail-1.2"  # a resume is a new Ray job
    assert ray_job(head, "fail-1.2").json()["entrypoint"].count("--resume") == 1


def test_deleting_a_run_deletes_its_ray_jobs(
    ray_server: Callable[..., Server], head: FakeRayHead, stand_in_trainer: str
) -> None:
    server = ray_server(trainer_command=stand_in_trainer)
    with server.client() as client:
        assert client.post("/runs", json={**SHORT, "run_id": "fail-2"}).status_code == 201
        wait_for(lambda: run_status(client, "fail-2") == "failed", 30, "the run to fail")
        assert client.delete("/runs/fail-2").status_code == 204  # right after the end: Ray may bring it back
    assert ray_job(head, "fail-2.1").status_code == 404


def test_runs_wait_in_our_queue_not_in_rays(
    ray_server: Callable[..., Server], head: FakeRayHead, stand_in_trainer: str
) -> None:
    server = ray_server(trainer_command=stand_in_trainer, max_concurrent_runs=1)
    with server.client() as client:
        for run_id in ("sleep-1", "sleep-2"):
            assert client.post("/runs", json={**SHORT, "run_id": run_id}).status_code == 201
        wait_for(lambda: ray_job(head, "sleep-1.1").status_code == 200, 30, "the first job")
        second = client.get("/runs/sleep-2").json()
        assert (second["status"], second["queue_position"]) == ("queued", 1)
        assert ray_job(head, "sleep-2.1").status_code == 404  # not submitted while it waits
        assert client.post("/runs/sleep-1/cancel").status_code == 202
        wait_for(lambda: ray_job(head, "sleep-2.1").status_code == 200, 30, "the second job")
        assert client.post("/runs/sleep-2/cancel").status_code == 202
        wait_for(lambda: run_status(client, "sleep-2") == "cancelled", 30, "the second run to be cancelled")


def test_a_head_that_stays_away_leaves_no_run_running(
    ray_server: Callable[..., Server], head: FakeRayHead, stand_in_trainer: str
) -> None:
    server = ray_server(trainer_command=stand_in_trainer, ray_head_timeout_s=1)
    with server.client() as client:
        assert client.post("/runs", json={**SHORT, "run_id": "sleep-3"}).status_code == 201
        wait_for(lambda: ray_job(head, "sleep-3.1").status_code == 200, 30, "the job")
        head.stop()  # kills its jobs
        wait_for(lambda: run_status(client, "sleep-3") == "interrupted", 30, "the run to be interrupted")
        assert "unreachable" in client.get("/runs/sleep-3").json()["error"]


def test_a_restarted_head_forgets_its_jobs_and_their_runs_are_interrupted(
    ray_server: Callable[..., Server], head: FakeRayHead
) -> None:
    server = ray_server(ray_head_timeout_s=600)  # only the head's answer may settle the run
    with server.client() as client:
        assert client.post("/runs", json={**LONG, "run_id": "r3"}).status_code == 201
        follow(client, "r3", stop_after_windows=1)
        head.stop()  # SIGKILLs the trainer, as a stopped Ray head does
        head.start()
        wait_for(lambda: run_status(client, "r3") == "interrupted", 30, "the run to be interrupted")
        run = client.get("/runs/r3").json()
    assert "no longer knows job r3.1" in run["error"]
    assert run["windows_emitted"] >= 1  # what it wrote is kept (SIGKILL may cut a line); it can be resumed


def test_a_restarted_server_adopts_ray_runs_and_can_cancel_them(
    ray_server: Callable[..., Server], head: FakeRayHead
) -> None:
    first = ray_server()
    with first.client() as client:
        assert client.post("/runs", json={**LONG, "run_id": "r4"}).status_code == 201
        follow(client, "r4", stop_after_windows=1)
    first.stop()
    second = ray_server()
    with second.client() as client:
        assert run_status(client, "r4") == "running"
        wait_for(lambda: (client.get("/runs/r4").json()["ray_job"] or {}).get("status") == "RUNNING", 30,
                 "the adopted job to be polled")
        assert client.post("/runs/r4/cancel").status_code == 202
        wait_for(lambda: run_status(client, "r4") == "cancelled", 30, "the adopted run to be cancelled")
        run = client.get("/runs/r4").json()
    assert_stopped_inside_its_window(run, file_windows(second.runs_root, "r4"))
    assert json.loads((second.runs_root / "r4" / "run_metadata.json").read_text())["launcher"] == "ray"


def test_while_the_head_is_away_launches_fail_and_cancels_say_so(
    ray_server: Callable[..., Server], head: FakeRayHead, stand_in_trainer: str
) -> None:
    server = ray_server(trainer_command=stand_in_trainer, ray_head_timeout_s=600)
    with server.client() as client:
        assert client.post("/runs", json={**SHORT, "run_id": "sleep-4"}).status_code == 201
        wait_for(lambda: ray_job(head, "sleep-4.1").status_code == 200, 30, "the job")
        head.stop()
        cancel = client.post("/runs/sleep-4/cancel")
        assert client.post("/runs", json={**SHORT, "run_id": "sleep-5"}).status_code == 201
        failed = wait_for(lambda: (r := client.get("/runs/sleep-5").json())["status"] == "failed" and r, 30,
                          "the launch to fail")
        waiting = client.get("/runs/sleep-4").json()
    assert cancel.status_code == 409 and "could not stop Ray job sleep-4.1" in cancel.json()["detail"]
    assert (waiting["status"], waiting["error_kind"]) == ("starting", "cancel_failed")
    assert failed["error_kind"] == "launch_failed" and "cannot reach the Ray head" in failed["error"]
