"""The run supervisor: a FIFO launch queue, the trainers it runs, and what happens when they end.

State lives in the run directories; this object only holds what can be rebuilt from them
(the queue order comes from each queued run's `queued_at`). The trainer writes its own
`running` and terminal statuses; the supervisor writes `queued`/`starting`, and writes
`failed`, `cancelled` or `interrupted` only once the trainer is gone and its lock is free,
with an `error_kind` saying why. A failure inside the supervisor (a launch, a verdict, a
housekeeping round) is logged with its traceback and contained: the queue and housekeeping go on.
Each start of a run is recorded in it (`launcher`, `launch_attempt`) before the launcher starts
it, so that a restarted server finds the trainer again wherever it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from app.core.config import Settings
from app.launcher import AdoptedTrainer, Launcher, TrainerProcess, WatchedTrainer
from app.models import RayJobPlacement
from app.ray_launcher import RayJobLauncher, ray_job_placement
from app.run_errors import RunConflict, RunNotFound
from app.store import CorruptRun, RunStore
from app.trainer_log import read_tail
from trainer.config import TrainConfig
from trainer.rundir import (
    TERMINAL_STATUSES,
    ErrorKind,
    InvalidTransition,
    RunMetadata,
    RunStatus,
    is_run_live,
    utc_now,
)

log = logging.getLogger(__name__)

RESUMABLE = frozenset({RunStatus.cancelled, RunStatus.interrupted, RunStatus.failed})
LOG_TAIL_LINES = 20
STARTUP_GRACE_S = 60.0  # how long an adopted, starting trainer may run without the lock
STRAY_SCAN_EVERY = 10  # supervise_poll_s periods between scans for unwatched runs
EXIT_WAIT_S = 5.0  # how long DELETE and resume wait for a finished trainer to exit
KILL_WAIT_S = 5.0  # how long a SIGKILL-ed trainer may take to be seen gone before the cancel failed
EXIT_BAD_CONFIG = 2  # the trainer's exit status for bad flags, config or run directory


class CancelFailed(RunConflict):
    """The trainer of a run being cancelled could not be signalled (HTTP 409, also in the run)."""


@dataclass
class _Active:
    """A trainer the supervisor is watching."""

    process: TrainerProcess
    exited: asyncio.Event = field(default_factory=asyncio.Event)
    cancel_requested: bool = False
    stopper: asyncio.Task[None] | None = None


class RunSupervisor:
    """Owns the launch queue and every trainer process this server started or adopted."""

    def __init__(self, store: RunStore, launcher: Launcher, settings: Settings) -> None:
        self._store = store
        self._launcher = launcher
        self._settings = settings
        self._queue: deque[str] = deque()
        self._active: dict[str, _Active] = {}
        self._launching: dict[str, bool] = {}  # runs being launched -> cancel requested meanwhile
        self._tasks: set[asyncio.Task[None]] = set()

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Rebuild from the run root: adopt live trainers, mark dead ones, resume the queue."""
        queued: list[RunMetadata] = []
        for meta in self._store.all():
            if meta.status == RunStatus.queued:
                queued.append(meta)
            elif meta.status not in TERMINAL_STATUSES:
                self._contain(f"run {meta.run_id}: recovery", lambda: self._recover(meta))
        queued.sort(key=lambda m: (m.queued_at or m.created_at, m.run_id))
        self._queue.extend(m.run_id for m in queued)
        self._spawn(self._housekeeping())
        await self._pump()

    async def close(self) -> None:
        """Stop watching. Trainers keep running; the next server adopts them."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._launcher.aclose()

    def _recover(self, meta: RunMetadata) -> None:
        trainer = self._adopt(meta)
        if trainer.alive():
            log.info("run %s: adopting the running trainer (pid %s)", meta.run_id, meta.pid)
            self._watch(meta.run_id, trainer)
        else:
            self._settle(meta.run_id, None, cancelled=False, note="no trainer was running it")

    def _adopt(self, meta: RunMetadata) -> WatchedTrainer:
        paths = self._store.paths(meta.run_id)
        adopted = self._launcher.adopt(meta, paths)  # e.g. the run's Ray job
        if adopted is not None:
            return adopted
        # Only a `starting` run's pid may be alive without the lock (the trainer is still importing).
        grace = STARTUP_GRACE_S if meta.status == RunStatus.starting else 0.0
        return AdoptedTrainer(paths, meta.pid, self._settings.supervise_poll_s, grace)

    # ---- queries ---------------------------------------------------------------------------

    def queue_position(self, run_id: str) -> int | None:
        """1-based place in the launch queue, or None if the run is not queued here."""
        try:
            return self._queue.index(run_id) + 1
        except ValueError:
            return None

    def ray_job(self, meta: RunMetadata) -> RayJobPlacement | None:
        """The Ray job of the run's latest launch, if the ray launcher made it."""
        if isinstance(self._launcher, RayJobLauncher):
            return self._launcher.placement(meta)
        return ray_job_placement(meta, None)

    # ---- commands --------------------------------------------------------------------------

    async def submit(self, run_id: str, config: TrainConfig) -> RunMetadata:
        """Create the run directory as `queued` and put it in the queue (RunExists if taken);
        it is started before this returns if there is room."""
        meta = self._store.create(run_id, config)
        self._queue.append(run_id)
        await self._pump()
        return self._store.get(run_id) or meta

    async def cancel(self, run_id: str) -> RunMetadata:
        """Cancel a queued run at once; SIGTERM a live one (SIGKILL after the grace period)."""
        meta = self._require(run_id)
        if meta.status in TERMINAL_STATUSES:
            raise RunConflict(f"run {run_id} is already {meta.status.value}")
        if run_id in self._launching:
            self._launching[run_id] = True  # stopped as soon as its launch returns
            return meta
        if run_id not in self._active and meta.status != RunStatus.queued:
            self._recover(meta)  # a trainer started behind our back, or a dead one
            meta = self._require(run_id)
            if meta.status in TERMINAL_STATUSES:
                raise RunConflict(f"run {run_id} is already {meta.status.value}")
        active = self._active.get(run_id)
        if active is None:
            if run_id in self._queue:
                self._queue.remove(run_id)
            return self._store.set_status(run_id, RunStatus.cancelled, error="cancelled while queued")
        if active.stopper is None:
            await self._stop(run_id, active)
        return meta

    async def _stop(self, run_id: str, active: _Active) -> None:
        """SIGTERM the trainer, and escalate after the grace period; CancelFailed if it cannot be signalled."""
        try:
            await active.process.send_signal(signal.SIGTERM)
        except OSError as exc:
            error = f"could not signal the trainer (pid {active.process.pid}): {exc}"
            raise self._cancel_failed(run_id, active, error) from exc
        active.cancel_requested = True
        if active.stopper is None:  # a concurrent cancel may have got here first
            active.stopper = self._spawn(self._escalate(run_id, active))

    async def resume(self, run_id: str, total_env_steps: int | None = None) -> RunMetadata:
        """Queue a cancelled, interrupted or failed run again; it restarts with `--resume`. With a
        new `total_env_steps` (the caller checked it), a completed run too: it is extended."""
        meta = self._require(run_id)
        extending = total_env_steps is not None and meta.status == RunStatus.completed
        if meta.status not in RESUMABLE and not extending:
            raise RunConflict(
                f"run {run_id} is {meta.status.value}; only cancelled, interrupted or failed runs resume "
                "(a completed one with a larger total_env_steps)"
            )
        await self._trainer_gone(run_id)
        target = {} if total_env_steps is None else {"target_env_steps": total_env_steps}
        meta = self._store.set_status(
            run_id,
            RunStatus.queued,
            resuming=True,
            queued_at=utc_now(),
            launch="resume",
            error=None,
            error_kind=None,
            exit_code=None,
            **target,
        )
        self._queue.append(run_id)
        await self._pump()
        return self._store.get(run_id) or meta

    async def delete(self, run_id: str) -> None:
        """Remove a finished or corrupt run's directory (after its trainer, if any, has exited)."""
        if isinstance(self._store.lookup(run_id), CorruptRun):
            await self._trainer_gone(run_id)
            self._store.delete(run_id)
            return
        meta = self._require(run_id)
        if meta.status not in TERMINAL_STATUSES:
            raise RunConflict(f"run {run_id} is {meta.status.value}; cancel it before deleting it")
        await self._trainer_gone(run_id)
        self._store.delete(run_id)
        await self._launcher.forget(meta)

    async def _trainer_gone(self, run_id: str) -> None:
        """Wait briefly for a trainer that wrote its final status to exit; RunConflict if it stays."""
        active = self._active.get(run_id)
        if active is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(active.exited.wait(), EXIT_WAIT_S)
        if run_id in self._active or is_run_live(self._store.paths(run_id)):
            raise RunConflict(f"run {run_id} still has a trainer process; try again")

    def _require(self, run_id: str) -> RunMetadata:
        meta = self._store.get(run_id)
        if meta is None:
            raise RunNotFound(f"no run {run_id}")
        return meta

    # ---- launching and watching ------------------------------------------------------------

    async def _pump(self) -> None:
        """Start queued runs, oldest first, while there is room."""
        while self._queue and len(self._active) + len(self._launching) < self._settings.max_concurrent_runs:
            run_id = self._queue.popleft()
            try:
                await self._launch(run_id)
            except Exception:  # contained: the queue goes on
                log.exception("run %s: launch failed", run_id)

    async def _launch(self, run_id: str) -> None:
        """Record the run as `starting` (with its launcher and attempt) and start its trainer."""
        meta = self._store.get(run_id)
        if meta is None or meta.status != RunStatus.queued:
            return  # deleted or cancelled by hand meanwhile
        paths = self._store.paths(run_id)
        # Absolute paths: a launcher may start the trainer elsewhere (a Ray job starts in the run root).
        if meta.launch == "resume":
            args = ["--resume", str(paths.root.resolve()), "--total-env-steps", str(meta.target_env_steps)]
        else:
            args = ["--run-root", str(self._store.root.resolve()), "--run-id", run_id,
                    "--config", str(paths.config.resolve())]
        args += ["--limits", self._settings.train_limits.model_dump_json()]
        args += ["--log-max-bytes", str(self._settings.log_max_bytes)]
        attempt = meta.launch_attempt + 1
        self._store.set_status(run_id, RunStatus.starting, launcher=self._launcher.name, launch_attempt=attempt)
        self._launching[run_id] = False
        process: TrainerProcess | None = None
        try:
            process = await self._launcher.launch(paths, args, attempt=attempt)
        except OSError as exc:
            log.error("run %s: could not start the trainer: %s", run_id, exc)
            error = f"could not start the trainer: {exc}"
            self._store.set_status(run_id, RunStatus.failed, error=error, error_kind=ErrorKind.launch_failed)
        finally:
            cancel_requested = self._launching.pop(run_id)
        if process is None:
            return
        # Recorded before the trainer's first own metadata write (it takes the lock and imports
        # torch first), so a server restarted meanwhile can still find the starting trainer.
        self._store.set_status(run_id, RunStatus.starting, pid=process.pid)
        log.info("run %s: started trainer pid %s (attempt %d)", run_id, process.pid, attempt)
        active = self._watch(run_id, process)
        if cancel_requested:
            with contextlib.suppress(CancelFailed):  # recorded in the run; a later cancel retries
                await self._stop(run_id, active)

    def _watch(self, run_id: str, process: TrainerProcess) -> _Active:
        active = _Active(process)
        self._active[run_id] = active
        self._spawn(self._await_exit(run_id, active))
        return active

    async def _await_exit(self, run_id: str, active: _Active) -> None:
        try:
            exit_code = await active.process.wait()
        except Exception:  # lost track of it: the verdict checks the run's lock before judging
            log.exception("run %s: waiting for trainer pid %s failed", run_id, active.process.pid)
            exit_code = None
        finally:
            active.exited.set()
            del self._active[run_id]
        self._contain(
            f"run {run_id}: recording how its trainer ended",
            lambda: self._settle(run_id, exit_code, cancelled=active.cancel_requested, note=active.process.end_note),
        )
        await self._pump()

    async def _escalate(self, run_id: str, active: _Active) -> None:
        """SIGKILL a SIGTERM-ed trainer still there after the grace period; if even that does not
        end it, record that the cancel failed."""
        if await _exits_within(active, self._settings.stop_grace_s):
            return
        pid = active.process.pid
        log.warning("trainer pid %s ignored SIGTERM for %.1f s; killing it", pid, self._settings.stop_grace_s)
        try:
            await active.process.send_signal(signal.SIGKILL)
        except OSError as exc:
            self._cancel_failed(run_id, active, f"could not kill the trainer (pid {pid}): {exc}")
            return
        if not await _exits_within(active, KILL_WAIT_S):
            self._cancel_failed(run_id, active, f"the trainer (pid {pid}) is still running after SIGKILL")

    def _cancel_failed(self, run_id: str, active: _Active, error: str) -> CancelFailed:
        """Record in the run that its cancel failed (the trainer runs on); a later cancel retries."""
        log.error("run %s: cancel failed: %s", run_id, error)
        active.stopper = None
        meta = self._store.get(run_id)
        if meta is not None and meta.status not in TERMINAL_STATUSES:
            with contextlib.suppress(InvalidTransition):  # it finished meanwhile
                self._store.set_status(run_id, meta.status, error=error, error_kind=ErrorKind.cancel_failed)
        return CancelFailed(f"run {run_id}: cancel failed: {error}")

    def _settle(self, run_id: str, exit_code: int | None, *, cancelled: bool, note: str | None = None) -> None:
        """After the trainer is gone: write the terminal status it could not write itself."""
        paths = self._store.paths(run_id)
        meta = self._store.get(run_id)
        if meta is None or meta.status in TERMINAL_STATUSES:
            return
        if is_run_live(paths):  # some other process owns the run now
            self._watch(run_id, self._adopt(meta))
            return
        status, kind, error = _verdict(exit_code, cancelled, note)
        if status == RunStatus.failed:
            error = f"{error}; last lines of logs/trainer.log:\n{read_tail(paths.log, LOG_TAIL_LINES)}"
        try:
            self._store.set_status(run_id, status, error=error, error_kind=kind, exit_code=exit_code, pid=None)
        except InvalidTransition as exc:  # the trainer wrote its own terminal status meanwhile
            log.info("run %s: %s", run_id, exc)
        log.info("run %s: %s (%s)", run_id, status.value, error)

    async def _housekeeping(self) -> None:
        """Now and then, look for unwatched runs."""
        while True:
            await asyncio.sleep(self._settings.supervise_poll_s * STRAY_SCAN_EVERY)
            self._contain("the scan for unwatched runs", self._watch_strays)

    def _watch_strays(self) -> None:
        """Adopt live runs nobody watches (e.g. `python -m trainer` started by hand into the run
        root) and mark dead ones, so that no run stays `running` with nothing running it."""
        for meta in self._store.all():
            unwatched = meta.run_id not in self._active and meta.run_id not in self._launching
            if meta.status in (RunStatus.starting, RunStatus.running) and unwatched:
                self._contain(f"run {meta.run_id}: recovery", lambda: self._recover(meta))

    @staticmethod
    def _contain(what: str, action: Callable[[], object]) -> None:
        """Run `action`; a failure is logged with its traceback instead of ending the caller."""
        try:
            action()
        except Exception:
            log.exception("%s failed", what)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("supervisor task failed", exc_info=task.exception())


async def _exits_within(active: _Active, seconds: float) -> bool:
    try:
        await asyncio.wait_for(active.exited.wait(), seconds)
    except TimeoutError:
        return False
    return True


def _verdict(exit_code: int | None, cancelled: bool, note: str | None) -> tuple[RunStatus, ErrorKind, str]:
    """The status, error kind and error of a trainer that ended without writing a final status."""
    if exit_code is None:
        kind, error = ErrorKind.interrupted, note or "the trainer vanished without writing a final status"
    elif exit_code < 0:
        kind, error = ErrorKind.killed, f"the trainer was killed by {_signal_name(-exit_code)}"
    elif exit_code == EXIT_BAD_CONFIG:
        kind, error = ErrorKind.bad_config, "the trainer refused its flags, config or run directory (exit 2)"
    else:
        kind, error = ErrorKind.exit_code, f"the trainer exited with code {exit_code} without writing a final status"
    if cancelled:
        return RunStatus.cancelled, kind, f"cancelled; {error}"
    if kind in (ErrorKind.interrupted, ErrorKind.killed):
        return RunStatus.interrupted, kind, error
    return RunStatus.failed, kind, error


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"
