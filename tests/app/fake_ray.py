"""A small stand-in for a Ray head's Jobs REST API that runs each job's entrypoint as a real local
shell process, with Ray's behaviours that the launcher depends on (as measured on ray 2.60):

- `POST /api/jobs/` with a known submission id: 500 with a traceback; no slot free for the job's
  `entrypoint_num_cpus`: it stays PENDING until one is;
- stop: SIGTERM to the entrypoint's process group, SIGKILL after the job's
  `RAY_JOB_STOP_WAIT_TIME_S` (runtime_env env var), then STOPPED with no exit code;
- an entrypoint that exits non-zero: FAILED with `driver_exit_code` (negative for a signal);
- `DELETE` of a non-terminal job: 500; of a job that ended less than a second ago: the job comes
  back as FAILED shortly after (once);
- SIGTERM to this server (the head going away): every job is SIGKILLed and forgotten;
- with `--token`, every request needs `Authorization: Bearer <token>` (401 otherwise).

Run it as `python -m tests.app.fake_ray --port P [--num-cpus N] [--token T]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

DEFAULT_STOP_WAIT_S = 3
RESURRECT_WITHIN_S = 1.0
RESURRECT_AFTER_S = 0.2


@dataclass
class FakeJob:
    submission_id: str
    entrypoint: str
    env_vars: dict[str, str]
    num_cpus: float
    metadata: dict[str, str]
    status: str = "PENDING"
    message: str = "Job has not started yet."
    error_type: str | None = None
    exit_code: int | None = None
    process: asyncio.subprocess.Process | None = None
    stop_requested: bool = False
    ended_at: float | None = None

    def details(self) -> dict[str, Any]:
        return {
            "type": "SUBMISSION",
            "job_id": None,
            "submission_id": self.submission_id,
            "status": self.status,
            "entrypoint": self.entrypoint,
            "message": self.message,
            "error_type": self.error_type,
            "metadata": self.metadata,
            "runtime_env": {"env_vars": self.env_vars},
            "entrypoint_num_cpus": self.num_cpus,
            "driver_agent_http_address": "http://127.0.0.1:52365" if self.process else None,
            "driver_node_id": "fake-node-0" if self.process else None,
            "driver_exit_code": self.exit_code,
        }


class FakeJobsHead:
    def __init__(self, num_cpus: float, token: str | None) -> None:
        self.num_cpus = num_cpus
        self.token = token
        self.jobs: dict[str, FakeJob] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    def app(self) -> Starlette:
        routes = [
            Route("/api/version", self.version, methods=["GET"]),
            Route("/api/jobs/", self.submit, methods=["POST"]),
            Route("/api/jobs/{submission_id}", self.info, methods=["GET"]),
            Route("/api/jobs/{submission_id}", self.delete, methods=["DELETE"]),
            Route("/api/jobs/{submission_id}/stop", self.stop, methods=["POST"]),
        ]
        return Starlette(
            routes=routes, lifespan=self.lifespan, middleware=[Middleware(BaseHTTPMiddleware, dispatch=self.check_token)]
        )

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        yield
        for job in self.jobs.values():  # the head is going away: so are its jobs
            if job.process is not None and job.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(job.process.pid, signal.SIGKILL)

    async def check_token(self, request: Request, call_next: Any) -> Response:
        if self.token and request.headers.get("authorization") != f"Bearer {self.token}":
            return PlainTextResponse("Unauthorized: missing or invalid authentication token", status_code=401)
        return await call_next(request)

    async def version(self, request: Request) -> Response:
        return JSONResponse({"version": "4", "ray_version": "2.60.0-fake", "ray_commit": "fake"})

    async def submit(self, request: Request) -> Response:
        body = await request.json()
        submission_id = body["submission_id"]
        if submission_id in self.jobs:
            return _traceback(f"ValueError: Job with submission_id {submission_id} already exists. "
                              "Please use a different submission_id.")
        job = FakeJob(
            submission_id,
            body["entrypoint"],
            dict((body.get("runtime_env") or {}).get("env_vars") or {}),
            float(body.get("entrypoint_num_cpus") or 0),
            dict(body.get("metadata") or {}),
        )
        self.jobs[submission_id] = job
        self.spawn(self.run(job))
        return JSONResponse({"job_id": submission_id, "submission_id": submission_id})

    async def info(self, request: Request) -> Response:
        job = self.jobs.get(request.path_params["submission_id"])
        if job is None:
            return PlainTextResponse(f"Job {request.path_params['submission_id']} does not exist", status_code=404)
        return JSONResponse(job.details())

    async def stop(self, request: Request) -> Response:
        job = self.jobs.get(request.path_params["submission_id"])
        if job is None:
            return PlainTextResponse(f"Job {request.path_params['submission_id']} does not exist", status_code=404)
        if job.status not in ("PENDING", "RUNNING") or job.stop_requested:
            return JSONResponse({"stopped": False})
        job.stop_requested = True
        if job.process is None:  # still pending: it never starts
            self.end(job, "STOPPED", "Job was intentionally stopped.", None)
        else:
            self.spawn(self.terminate(job, job.process))
        return JSONResponse({"stopped": True})

    async def delete(self, request: Request) -> Response:
        submission_id = request.path_params["submission_id"]
        job = self.jobs.get(submission_id)
        if job is None:
            return PlainTextResponse(f"Job {submission_id} does not exist", status_code=404)
        if job.status in ("PENDING", "RUNNING"):
            return _traceback(f"RuntimeError: Attempted to delete job '{submission_id}', "
                              f"but it is in a non-terminal state {job.status}.")
        del self.jobs[submission_id]
        if job.ended_at is not None and time.monotonic() - job.ended_at < RESURRECT_WITHIN_S:
            self.spawn(self.resurrect(job))
        return JSONResponse({"deleted": True})

    async def run(self, job: FakeJob) -> None:
        while self.cpus_in_use() + job.num_cpus > self.num_cpus:
            if job.status != "PENDING":
                return  # stopped while pending
            await asyncio.sleep(0.05)
        if job.status != "PENDING":
            return
        env = {**os.environ, **job.env_vars}
        job.process = await asyncio.create_subprocess_shell(
            job.entrypoint, env=env, start_new_session=True, stdin=asyncio.subprocess.DEVNULL
        )
        job.status, job.message = "RUNNING", "Job is currently running."
        code = await job.process.wait()
        if job.stop_requested:
            return  # terminate() records the end once the process group is gone
        if code == 0:
            self.end(job, "SUCCEEDED", "Job finished successfully.", 0)
        else:
            message = f"Job entrypoint command failed with exit code {code}, last available logs: ..."
            self.end(job, "FAILED", message, code, "JOB_ENTRYPOINT_COMMAND_ERROR")

    async def terminate(self, job: FakeJob, process: asyncio.subprocess.Process) -> None:
        wait_s = int(job.env_vars.get("RAY_JOB_STOP_WAIT_TIME_S", DEFAULT_STOP_WAIT_S))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), wait_s)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
        self.end(job, "STOPPED", "Job was intentionally stopped.", None)

    async def resurrect(self, job: FakeJob) -> None:
        await asyncio.sleep(RESURRECT_AFTER_S)
        if job.submission_id in self.jobs:
            return
        job.status, job.error_type, job.exit_code = "FAILED", "JOB_SUPERVISOR_ACTOR_DIED", None
        job.message = "Job supervisor actor died: The actor died unexpectedly before finishing this task."
        job.ended_at = None  # a second deletion sticks
        self.jobs[job.submission_id] = job

    def end(self, job: FakeJob, status: str, message: str, code: int | None, error_type: str | None = None) -> None:
        job.status, job.message, job.exit_code, job.error_type = status, message, code, error_type
        job.ended_at = time.monotonic()

    def cpus_in_use(self) -> float:
        return sum(j.num_cpus for j in self.jobs.values() if j.status == "RUNNING")

    def spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


def _traceback(last_line: str) -> Response:
    body = f"Traceback (most recent call last):\n  File \"job_manager.py\", line 1, in submit_job\n{last_line}\n.\n"
    return PlainTextResponse(body, status_code=500)


class FakeRayHead:
    """The fake head as a child process on a fixed loopback port, so that it can go away and come
    back (empty, as a restarted Ray head) at the same address."""

    def __init__(self, port: int, log_path: Path, *, num_cpus: float = 2, token: str | None = None) -> None:
        self.port = port
        self.address = f"http://127.0.0.1:{port}"
        self._log_path = log_path
        self._args = ["--port", str(port), "--num-cpus", str(num_cpus)] + (["--token", token] if token else [])
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> FakeRayHead:
        with open(self._log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.app.fake_ray", *self._args], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 30
        while not self._answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the fake Ray head did not start: {self._log_path.read_text()[-2000:]}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        """Go away as a stopped head does: SIGTERM, which kills every job it runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.app.fake_ray")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--num-cpus", type=float, default=2)
    parser.add_argument("--token")
    args = parser.parse_args()
    head = FakeJobsHead(args.num_cpus, args.token)
    uvicorn.run(head.app(), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
