"""Trainers as Ray jobs: the `ray` launcher.

Each launch of a run is one Ray job, submitted through the Jobs REST API (app.ray_jobs) with the
submission id `<run_id>.<attempt>` (a resume is a new attempt: Ray refuses a known id). Its
entrypoint is the same `python -m trainer ...` the local launcher runs, started in the run root
with its output appended to the run's logs/trainer.log, so the run root must be one filesystem
that the server and every Ray node see at the same path. Only the supervisor's queue decides
when a run starts: a job is submitted when its run should start, never parked in Ray's queue.

A job is watched by polling its status. Ray stops a job with SIGTERM and, after the job's
RAY_JOB_STOP_WAIT_TIME_S (set from the service's stop grace), SIGKILL. The run directory stays
the source of truth: while a trainer holds the run's lock it is alive, whatever the head says;
a job the head no longer knows (it restarted) or a head that stays unreachable, with the lock
free, ends the watch with no exit status, so the supervisor settles the run as `interrupted`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import shlex
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from app.launcher import THREAD_LIMIT_VARS
from app.models import RayJobPlacement
from app.ray_jobs import RayHeadUnreachable, RayJobInfo, RayJobNotFound, RayJobsClient, RayJobsError
from trainer.rundir import RunMetadata, RunPaths, is_run_live

log = logging.getLogger(__name__)


def submission_id(run_id: str, attempt: int) -> str:
    """The Ray submission id of a run's `attempt`-th launch (run ids are validated: no `/`)."""
    return f"{run_id}.{attempt}"


def launched_submission_id(meta: RunMetadata) -> str | None:
    """The submission id of the run's latest launch, if the ray launcher made it."""
    if meta.launcher != RayJobLauncher.name or meta.launch_attempt == 0:
        return None
    return submission_id(meta.run_id, meta.launch_attempt)


class RayTrainer:
    """One run's Ray job, as the supervisor sees a trainer: signalled through the Jobs API."""

    def __init__(self, launcher: RayJobLauncher, paths: RunPaths, submission_id: str) -> None:
        self._launcher = launcher
        self._paths = paths
        self.submission_id = submission_id
        self.end_note: str | None = None

    @property
    def pid(self) -> None:
        return None  # the trainer's pid is on some Ray node

    def alive(self) -> bool:
        """Unknown until the head is asked: wait() asks it, and ends at once if the job is over."""
        return True

    async def send_signal(self, sig: signal.Signals) -> None:
        """Ask Ray to stop the job: it sends SIGTERM, and SIGKILL after the grace period itself,
        so SIGKILL only repeats the request. OSError if the head cannot be asked."""
        try:
            await self._launcher.client.stop(self.submission_id)
        except RayJobNotFound:
            return  # forgotten by a restarted head: its trainer was killed with it
        except RayJobsError as exc:
            raise OSError(f"could not stop Ray job {self.submission_id}: {exc}") from None

    async def wait(self) -> int | None:
        """Poll the job until it ends and no trainer holds the run's lock: the driver's exit
        status, or None (with `end_note` saying why) when it is unknown."""
        unreachable_since: float | None = None
        while True:
            try:
                info = await self._launcher.client.info(self.submission_id)
            except RayJobNotFound:
                if not is_run_live(self._paths):
                    self.end_note = f"the Ray head no longer knows job {self.submission_id} (restarted?)"
                    return None
            except RayJobsError as exc:
                unreachable_since = unreachable_since or time.monotonic()
                lost_s = time.monotonic() - unreachable_since
                if lost_s >= self._launcher.head_timeout_s and not is_run_live(self._paths):
                    kind = "unreachable" if isinstance(exc, RayHeadUnreachable) else "failing"
                    self.end_note = f"the Ray head was {kind} for {lost_s:.0f} s and no trainer holds the run: {exc}"
                    return None
            else:
                unreachable_since = None
                self._launcher.seen(self._paths.run_id, info)
                if info.status.terminal and not is_run_live(self._paths):
                    message = info.message.splitlines()[0] if info.message else "no message"
                    self.end_note = f"Ray job {info.submission_id} {info.status.value}: {message}"
                    return info.driver_exit_code
            await asyncio.sleep(self._launcher.poll_s)


class RayJobLauncher:
    """Starts trainers as Ray jobs through the Jobs REST API of one Ray head."""

    name = "ray"

    def __init__(
        self,
        client: RayJobsClient,
        command: Sequence[str],
        *,
        threads: int,
        stop_grace_s: float,
        num_cpus: float,
        poll_s: float,
        head_timeout_s: float,
    ) -> None:
        self.client = client
        self.poll_s = poll_s
        self.head_timeout_s = head_timeout_s
        self._command = list(command)
        self._num_cpus = num_cpus
        self._env_vars = {name: str(threads) for name in THREAD_LIMIT_VARS}
        self._env_vars["PYTHONUNBUFFERED"] = "1"
        # Ray reads it as an integer number of seconds.
        self._env_vars["RAY_JOB_STOP_WAIT_TIME_S"] = str(math.ceil(stop_grace_s))
        self._last_seen: dict[str, RayJobInfo] = {}

    async def launch(self, paths: RunPaths, args: Sequence[str], *, attempt: int) -> RayTrainer:
        """Submit the run's `attempt`-th job; OSError if the head does not take it."""
        paths.make_dirs()
        job_id = submission_id(paths.run_id, attempt)
        try:
            await self.client.submit(
                job_id,
                self.entrypoint(paths, args),
                env_vars=self._env_vars,
                num_cpus=self._num_cpus,
                metadata={"run_id": paths.run_id, "attempt": str(attempt)},
            )
        except RayJobsError as exc:
            raise OSError(f"Ray did not take job {job_id}: {exc}") from None
        self._last_seen.pop(paths.run_id, None)
        return RayTrainer(self, paths, job_id)

    def entrypoint(self, paths: RunPaths, args: Sequence[str]) -> str:
        """The job's shell command: the trainer, run in the run root, appending to its log."""
        root = Path(paths.root).resolve().parent
        argv = " ".join(shlex.quote(word) for word in [*self._command, *args])
        log_file = shlex.quote(str(Path(paths.log).resolve()))
        return f"cd {shlex.quote(str(root))} && exec {argv} >> {log_file} 2>&1"

    def adopt(self, meta: RunMetadata, paths: RunPaths) -> RayTrainer | None:
        """The job of a run this launcher started (found in run_metadata.json after a restart)."""
        job_id = launched_submission_id(meta)
        return None if job_id is None else RayTrainer(self, paths, job_id)

    async def forget(self, meta: RunMetadata) -> None:
        """Delete the Ray jobs of every launch of a run that is being deleted."""
        if meta.launcher != self.name:
            return
        for attempt in range(1, meta.launch_attempt + 1):
            job_id = submission_id(meta.run_id, attempt)
            try:
                await self.client.delete(job_id)
            except RayJobsError as exc:
                log.warning("run %s: could not delete Ray job %s: %s", meta.run_id, job_id, exc)
        self._last_seen.pop(meta.run_id, None)

    def seen(self, run_id: str, info: RayJobInfo) -> None:
        self._last_seen[run_id] = info

    def placement(self, meta: RunMetadata) -> RayJobPlacement | None:
        """The Ray job of the run's latest launch, as last polled by this server."""
        return ray_job_placement(meta, self._last_seen.get(meta.run_id))

    async def check_head(self) -> None:
        """Log whether the head answers (and takes our token); the service starts either way."""
        try:
            version = await self.client.version()
        except RayJobsError as exc:
            log.error("ray launcher: %s; runs will fail to start until it answers", exc)
        else:
            log.info("ray launcher: Ray %s at %s", version, self.client.address)

    async def aclose(self) -> None:
        await self.client.aclose()


def ray_job_placement(meta: RunMetadata, seen: RayJobInfo | None) -> RayJobPlacement | None:
    """Where a run launched on Ray runs: its submission id from run_metadata.json, and what
    `seen` (the job as last polled, if it is this launch's) says of its status and node."""
    job_id = launched_submission_id(meta)
    if job_id is None:
        return None
    if seen is None or seen.submission_id != job_id:
        return RayJobPlacement(submission_id=job_id, status=None, node_id=None, node_address=None)
    address = seen.driver_agent_http_address
    return RayJobPlacement(
        submission_id=job_id,
        status=seen.status.value,
        node_id=seen.driver_node_id,
        node_address=urlsplit(address).hostname if address else None,
    )
