"""RunSupervisor with an in-process fake launcher: the verdict it writes when a trainer could not
write its own, and failures inside the supervisor contained (the queue and housekeeping go on)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from app import supervisor as supervisor_module
from app.core.config import Settings
from app.store import RunStore
from app.supervisor import RunSupervisor
from tests.support import FakeLauncher
from trainer.config import TrainConfig
from trainer.rundir import ErrorKind, RunMetadata, RunStatus, update_status

T = TypeVar("T")


async def _until(check: Callable[[], T | None], what: str, timeout: float = 10) -> T:
    """Yield to the loop until `check` returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not (value := check()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
    return value


def _supervised(
    tmp_path: Path, scenario: Callable[[RunSupervisor, RunStore, FakeLauncher], Awaitable[T]], **settings: object
) -> T:
    async def main() -> T:
        store = RunStore(tmp_path / "runs")
        launcher = FakeLauncher()
        supervisor = RunSupervisor(store, launcher, Settings(runs_root=tmp_path / "runs", **settings))
        await supervisor.start()
        try:
            return await scenario(supervisor, store, launcher)
        finally:
            await supervisor.close()

    return asyncio.run(main())


def _status(store: RunStore, run_id: str, *statuses: RunStatus) -> RunMetadata | None:
    meta = store.get(run_id)
    return meta if meta is not None and meta.status in statuses else None


VERDICTS = [
    # exit status, cancelled, expected status, error kind, words in the error
    (0, False, RunStatus.failed, ErrorKind.exit_code, "exited with code 0 without writing a final status"),
    (3, False, RunStatus.failed, ErrorKind.exit_code, "exited with code 3"),
    (2, False, RunStatus.failed, ErrorKind.bad_config, "refused its flags"),
    (-signal.SIGKILL, False, RunStatus.interrupted, ErrorKind.killed, "killed by SIGKILL"),
    (None, False, RunStatus.interrupted, ErrorKind.interrupted, "vanished"),
    (-signal.SIGKILL, True, RunStatus.cancelled, ErrorKind.killed, "cancelled; the trainer was killed by SIGKILL"),
]


@pytest.mark.parametrize(("exit_code", "cancelled", "status", "kind", "words"), VERDICTS)
def test_the_verdict_on_a_trainer_that_wrote_no_final_status(
    tmp_path, exit_code: int | None, cancelled: bool, status: RunStatus, kind: ErrorKind, words: str
) -> None:
    async def scenario(supervisor: RunSupervisor, store: RunStore, launcher: FakeLauncher) -> RunMetadata:
        await supervisor.submit("r", TrainConfig())
        store.paths("r").log.write_text("Traceback: the last words of the trainer\n")
        update_status(store.paths("r"), RunStatus.running)  # as the trainer would
        if cancelled:
            await supervisor.cancel("r")
            assert launcher.trainers["r"].signals == [signal.SIGTERM]
        launcher.trainers["r"].end(exit_code)
        return await _until(lambda: _status(store, "r", status), f"the run to be {status}")

    meta = _supervised(tmp_path, scenario)
    assert (meta.error_kind, meta.exit_code, meta.pid) == (kind, exit_code, None)
    assert words in meta.error
    assert ("the last words of the trainer" in meta.error) == (status == RunStatus.failed)


def test_a_trainer_that_wrote_its_own_final_status_keeps_it(tmp_path) -> None:
    async def scenario(supervisor: RunSupervisor, store: RunStore, launcher: FakeLauncher) -> RunMetadata:
        await supervisor.submit("r", TrainConfig())
        update_status(store.paths("r"), RunStatus.running)
        update_status(store.paths("r"), RunStatus.cancelled, exit_code=128 + signal.SIGTERM)
        await supervisor.submit("after", TrainConfig())
        launcher.trainers["r"].end(128 + signal.SIGTERM)
        await _until(lambda: _status(store, "after", RunStatus.starting), "the trainer to be settled")
        return store.get("r")

    meta = _supervised(tmp_path, scenario)
    assert (meta.status, meta.error, meta.error_kind, meta.exit_code) == (RunStatus.cancelled, None, None, 143)


def test_a_trainer_that_cannot_be_started_fails_the_run_and_the_queue_goes_on(tmp_path) -> None:
    async def scenario(supervisor: RunSupervisor, store: RunStore, launcher: FakeLauncher) -> tuple:
        launcher.error = PermissionError(13, "Permission denied", "/opt/trainer")
        await supervisor.submit("broken", TrainConfig())
        launcher.error = None
        await supervisor.submit("next", TrainConfig())
        return store.get("broken"), _status(store, "next", RunStatus.starting)

    broken, following = _supervised(tmp_path, scenario)
    assert (broken.status, broken.error_kind, broken.exit_code) == (RunStatus.failed, ErrorKind.launch_failed, None)
    assert "Permission denied" in broken.error
    assert following is not None


def test_a_failing_verdict_does_not_stall_the_queue(tmp_path, monkeypatch, caplog) -> None:
    settle = RunSupervisor._settle
    failures: list[str] = []

    def settle_fails_once(self: RunSupervisor, run_id: str, *args: object, **kwargs: object) -> None:
        if not failures:
            failures.append(run_id)
            raise OSError(28, "No space left on device")
        settle(self, run_id, *args, **kwargs)

    monkeypatch.setattr(RunSupervisor, "_settle", settle_fails_once)

    async def scenario(supervisor: RunSupervisor, store: RunStore, launcher: FakeLauncher) -> RunMetadata:
        await supervisor.submit("first", TrainConfig())
        await supervisor.submit("second", TrainConfig())
        assert _status(store, "second", RunStatus.queued)
        launcher.trainers["first"].end(0)
        return await _until(lambda: _status(store, "second", RunStatus.starting), "the queue to move on")

    assert _supervised(tmp_path, scenario, max_concurrent_runs=1)
    assert failures == ["first"] and "No space left on device" in caplog.text


def test_housekeeping_survives_a_failure_of_each_of_its_chores(tmp_path, monkeypatch, caplog) -> None:
    """One failing stray scan used to end housekeeping for the server's lifetime."""
    broken = {"_watch_strays"}

    def fails_once(name: str, real: Callable[..., object]) -> Callable[..., object]:
        def chore(*args: object) -> object:
            if name in broken:
                broken.discard(name)
                raise RuntimeError(f"{name} broke")
            return real(*args)

        return chore

    monkeypatch.setattr(RunSupervisor, "_watch_strays", fails_once("_watch_strays", RunSupervisor._watch_strays))

    async def scenario(supervisor: RunSupervisor, store: RunStore, launcher: FakeLauncher) -> tuple:
        store.create("stray", TrainConfig())  # left `running` by a trainer nobody watches
        update_status(store.paths("stray"), RunStatus.starting)
        update_status(store.paths("stray"), RunStatus.running)
        return await _until(lambda: _status(store, "stray", RunStatus.interrupted), "the stray to be found")

    stray = _supervised(tmp_path, scenario, supervise_poll_s=0.01)
    assert stray.error_kind == ErrorKind.interrupted
    assert not broken
    assert "_watch_strays broke" in caplog.text


def test_the_trainer_is_given_the_servers_log_cap(tmp_path) -> None:
    """The trainer is the log's only capper (trainer.logs); the server passes its budget on."""

    async def scenario(supervisor: RunSupervisor, store: RunStore, launcher: FakeLauncher) -> list[str]:
        await supervisor.submit("live", TrainConfig())
        return launcher.args["live"]

    args = _supervised(tmp_path, scenario, log_max_bytes=4096)
    assert args[args.index("--log-max-bytes") + 1] == "4096"


def test_a_trainer_that_outlives_sigkill_makes_the_cancel_fail_visibly(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(supervisor_module, "KILL_WAIT_S", 0.05)

    async def scenario(supervisor: RunSupervisor, store: RunStore, launcher: FakeLauncher) -> RunMetadata:
        await supervisor.submit("stuck", TrainConfig())
        update_status(store.paths("stuck"), RunStatus.running)
        await supervisor.cancel("stuck")
        meta = await _until(lambda: (m := store.get("stuck")) and m.error_kind and m, "the cancel to fail")
        assert launcher.trainers["stuck"].signals == [signal.SIGTERM, signal.SIGKILL]
        return meta

    meta = _supervised(tmp_path, scenario, stop_grace_s=0)
    assert (meta.status, meta.error_kind) == (RunStatus.running, ErrorKind.cancel_failed)
    assert "still running after SIGKILL" in meta.error


def test_a_cancel_during_a_slow_launch_stops_the_trainer_once_it_has_started(tmp_path) -> None:
    async def scenario(supervisor: RunSupervisor, store: RunStore, launcher: FakeLauncher) -> RunMetadata:
        launcher.gate = asyncio.Event()
        submitting = asyncio.create_task(supervisor.submit("slow", TrainConfig()))
        await _until(lambda: _status(store, "slow", RunStatus.starting), "the launch to begin")
        assert (await supervisor.cancel("slow")).status == RunStatus.starting
        launcher.gate.set()
        await submitting
        trainer = launcher.trainers["slow"]
        await _until(lambda: trainer.signals == [signal.SIGTERM], "the trainer to get SIGTERM")
        trainer.end(-signal.SIGTERM)
        return await _until(lambda: _status(store, "slow", RunStatus.cancelled), "the run to be cancelled")

    meta = _supervised(tmp_path, scenario)
    assert (meta.launcher, meta.launch_attempt, meta.error_kind) == ("local", 1, ErrorKind.killed)
