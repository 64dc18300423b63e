"""Starting trainer processes and holding on to them.

A `Launcher` turns a run directory and trainer arguments into a `TrainerProcess`. The local
launcher starts `python -m trainer ...` as an argv list in its own session (so it outlives the
server and can be signalled as a process group), with its output appended to logs/trainer.log.
A trainer found running at start-up (started by an earlier server) is held as an
`AdoptedTrainer`: it is not our child, so its end is seen through its run lock (and, while it
is still starting up and has not taken the lock yet, through its pid), and it is signalled
through its process group only if it leads one (a trainer started by a script does not).
The `ray` launcher (app.ray_launcher) implements the same protocols with Ray jobs.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from typing import ClassVar, Protocol

from trainer.rundir import RunMetadata, RunPaths, is_run_live

THREAD_LIMIT_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)


class TrainerProcess(Protocol):
    """A running trainer the supervisor can signal and wait for."""

    end_note: str | None  # after wait(): why it ended, when the exit status does not tell

    @property
    def pid(self) -> int | None: ...

    async def send_signal(self, sig: signal.Signals) -> None:
        """Send `sig` to the trainer (to its process group where it leads one) while it is still
        running; raise OSError if it is running but cannot be signalled."""

    async def wait(self) -> int | None:
        """Wait for the trainer to end; its exit status (negative: killed by that signal), or None
        if it is unknown."""


class WatchedTrainer(TrainerProcess, Protocol):
    """A trainer found running (not started by this server): whether it may still be alive."""

    def alive(self) -> bool: ...


class Launcher(Protocol):
    name: ClassVar[str]  # recorded in run_metadata.json as `launcher` at each start

    async def launch(self, paths: RunPaths, args: Sequence[str], *, attempt: int) -> TrainerProcess:
        """Start the `attempt`-th trainer of the run at `paths` (1 = its first start) with the
        given trainer arguments; OSError if it cannot be started."""

    def adopt(self, meta: RunMetadata, paths: RunPaths) -> WatchedTrainer | None:
        """The trainer of an unfinished run this kind of launcher started, if it can tell better
        than the run's lock and pid (None: the supervisor watches the lock)."""

    async def forget(self, meta: RunMetadata) -> None:
        """Drop what the launcher keeps about a run that is being deleted."""

    async def aclose(self) -> None:
        """Release the launcher's resources when the server stops (its trainers run on)."""


class LocalTrainer:
    """A trainer child process of this server, waited for through a pidfd (no thread)."""

    end_note = None

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self._proc = proc
        self._pidfd = os.pidfd_open(proc.pid)

    @property
    def pid(self) -> int:
        return self._proc.pid

    async def send_signal(self, sig: signal.Signals) -> None:
        if self._proc.poll() is not None:
            return  # reaped: the group id may already belong to someone else
        try:
            os.killpg(self._proc.pid, sig)
        except ProcessLookupError:
            pass  # exited between poll() and killpg(); the waiter reaps it

    async def wait(self) -> int:
        loop = asyncio.get_running_loop()
        exited = loop.create_future()
        loop.add_reader(self._pidfd, exited.set_result, None)
        try:
            await exited
        finally:
            loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
        return self._proc.wait()


class AdoptedTrainer:
    """A trainer started by an earlier server: alive while it holds the run lock, or, for at most
    `startup_grace_s`, while its recorded pid is alive before it has taken the lock."""

    end_note = None

    def __init__(self, paths: RunPaths, pid: int | None, poll_s: float, startup_grace_s: float) -> None:
        self._paths = paths
        self._pid = pid
        self._poll_s = poll_s
        self._startup_deadline = time.monotonic() + startup_grace_s

    @property
    def pid(self) -> int | None:
        return self._pid

    def alive(self) -> bool:
        """Holding the lock, or a still-starting process (its pid is trusted only that long)."""
        if is_run_live(self._paths):
            return True
        return self._pid is not None and time.monotonic() < self._startup_deadline and pid_exists(self._pid)

    async def send_signal(self, sig: signal.Signals) -> None:
        if not self.alive():
            return
        if self._pid is None:
            raise OSError("run_metadata.json records no trainer pid")
        try:
            if os.getpgid(self._pid) == self._pid:
                os.killpg(self._pid, sig)
            else:
                os.kill(self._pid, sig)  # its group is someone else's (the script that started it)
        except ProcessLookupError:
            if self.alive():
                raise OSError(f"pid {self._pid} is gone but another process holds the run's lock") from None

    async def wait(self) -> None:
        while self.alive():
            await asyncio.sleep(self._poll_s)
        return None


def pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# What a trainer needs from the server's environment; nothing else is passed on (not the API
# token, nor any other PROSPECTOR_* setting or secret of the server's).
TRAINER_ENV_NAMES = frozenset(
    {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "VIRTUAL_ENV", "LD_LIBRARY_PATH"}
)
TRAINER_ENV_PREFIXES = ("LC_", "PYTHON", "WANDB_", "NUMBA_", "CUDA_", "NVIDIA_")


def trainer_environment(threads: int, source: Mapping[str, str]) -> dict[str, str]:
    """The minimal environment of a trainer process: what `source` holds of TRAINER_ENV_NAMES
    and TRAINER_ENV_PREFIXES, unbuffered output, and the thread limits."""
    env = {
        name: value
        for name, value in source.items()
        if name in TRAINER_ENV_NAMES or name.startswith(TRAINER_ENV_PREFIXES)
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update({name: str(threads) for name in THREAD_LIMIT_VARS})
    return env


class LocalSubprocessLauncher:
    """Starts trainers as local subprocesses: argv list, own session, output to the run's log."""

    name = "local"

    def __init__(
        self, command: Sequence[str], *, threads: int, base_env: Mapping[str, str] | None = None
    ) -> None:
        self._command = list(command)
        self._env = trainer_environment(threads, os.environ if base_env is None else base_env)

    async def launch(self, paths: RunPaths, args: Sequence[str], *, attempt: int) -> LocalTrainer:
        paths.make_dirs()
        log_fd = os.open(paths.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            proc = subprocess.Popen(
                [*self._command, *args],
                stdin=subprocess.DEVNULL,
                stdout=log_fd,
                stderr=subprocess.STDOUT,
                env=self._env,
                start_new_session=True,
            )
        finally:
            os.close(log_fd)
        return LocalTrainer(proc)

    def adopt(self, meta: RunMetadata, paths: RunPaths) -> None:
        return None  # the run's lock and recorded pid tell (AdoptedTrainer)

    async def forget(self, meta: RunMetadata) -> None:
        return None  # nothing is kept outside the run directory

    async def aclose(self) -> None:
        return None
