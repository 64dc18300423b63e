"""The window grid survives stops, resumes and crashes, for both backends (in-process runs).

Window k covers env steps [k*W, min((k+1)*W, total)); windows.jsonl holds each id once, in
order, and a resumed run's windows equal an uninterrupted run's. A stop is SIGTERM raised
inside the trainer at a chosen batch step (the real handler, in this process); a kill -9 is an
exception that escapes the trainer at a chosen write, leaving the files as a kill would.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import trainer.run_writer
from tests.support import train, windows_of, without_timing
from trainer.backends import RandomBackend
from trainer.checkpoint import load_checkpoint
from trainer.ppo import PPOBackend
from trainer.rundir import RunPaths, RunStatus, read_metadata

pytestmark = pytest.mark.usefixtures("warm_numba")  # these tests step the env in this process

RANDOM = ["--trainer-backend", "random", "--num-envs", "16", "--env-time-max", "300", "--window-env-steps", "500"]
PPO = [
    "--trainer-backend", "puffer_ppo", "--num-envs", "8", "--env-time-max", "60", "--window-env-steps", "300",
    "--ppo-rollout-steps", "16", "--ppo-hidden-sizes", "16", "--ppo-num-minibatches", "2", "--ppo-update-epochs", "1",
]  # fmt: skip
# (flags, backend class, total env steps: 3 windows, the last one short)
BACKENDS = {
    "random": (RANDOM, RandomBackend, 1400),
    "puffer_ppo": (PPO, PPOBackend, 800),
}
EXIT_SIGTERM = 128 + signal.SIGTERM


class Killed(BaseException):
    """Escapes train() like a kill -9: no status written, nothing cleaned up."""


def stop_at_call(monkeypatch: pytest.MonkeyPatch, backend: type, call: int) -> None:
    """SIGTERM this process during the backend's `call`-th act() (1-based) of the next run."""
    original = backend.act
    calls = 0

    def act(self: Any, *args: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == call:
            signal.raise_signal(signal.SIGTERM)
        return original(self, *args)

    monkeypatch.setattr(backend, "act", act)


def kill_at(monkeypatch: pytest.MonkeyPatch, name: str, when: Callable[[tuple[Any, ...]], bool]) -> None:
    """Make trainer.run_writer's `name` die (Killed) instead of running when `when(args)` holds."""
    original = getattr(trainer.run_writer, name)

    def dying(*args: Any, **kwargs: Any) -> Any:
        if when(args):
            raise Killed
        return original(*args, **kwargs)

    monkeypatch.setattr(trainer.run_writer, name, dying)


def checkpoint_ids(paths: RunPaths) -> list[int]:
    return sorted(int(p.stem.removeprefix("ckpt_")) for p in paths.checkpoints_dir.glob("ckpt_*.pt"))


def resume_point(paths: RunPaths) -> Path:
    return paths.checkpoints_dir / "resume_point.pt"


def assert_grid(records: list[dict[str, Any]], window: int, total: int) -> None:
    assert [r["window_id"] for r in records] == list(range(len(records)))
    for k, r in enumerate(records):
        assert (r["env_steps_start"], r["env_steps_end"]) == (k * window, min((k + 1) * window, total))
        assert r["window_complete"] is True
    assert records[-1]["env_steps_end"] == total


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """Each backend's windows of one uninterrupted run."""
    root = tmp_path_factory.mktemp("whole")
    out = {}
    for name, (flags, _, total) in BACKENDS.items():
        assert train(root, "--run-id", name, *flags, "--total-env-steps", str(total)) == 0
        out[name] = windows_of(RunPaths.of(root, name))
    return out


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_an_uninterrupted_run_fills_the_grid_and_checkpoints_its_end(tmp_path, backend, uninterrupted):
    flags, _, total = BACKENDS[backend]
    window = int(flags[flags.index("--window-env-steps") + 1])
    assert_grid(uninterrupted[backend], window, total)
    assert uninterrupted[backend][-1]["env_steps_in_window"] < window  # the short last window is written


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_cancel_inside_a_window_keeps_the_grid_and_resume_equals_an_uninterrupted_run(
    tmp_path, monkeypatch, backend, uninterrupted
):
    flags, backend_class, total = BACKENDS[backend]
    num_envs = int(flags[flags.index("--num-envs") + 1])
    window = int(flags[flags.index("--window-env-steps") + 1])
    paths = RunPaths.of(tmp_path, "parts")

    stop_call = window // num_envs + 3  # a few batches into window 1, mid-batch boundary behind
    stop_at_call(monkeypatch, backend_class, stop_call)
    assert train(tmp_path, "--run-id", "parts", *flags, "--total-env-steps", str(total)) == EXIT_SIGTERM
    stopped_at = stop_call * num_envs
    meta = read_metadata(paths)
    assert meta.status == RunStatus.cancelled and meta.env_steps_total == stopped_at
    # Only whole grid windows in the file; the open window's progress only in the metadata.
    written = windows_of(paths)
    assert [(r["window_id"], r["env_steps_end"]) for r in written] == [(0, window)]
    assert meta.windows_emitted == 1
    partial = meta.latest_window
    assert partial["window_complete"] is False and partial["window_id"] == 1
    assert (partial["env_steps_start"], partial["env_steps_end"]) == (window, stopped_at)
    # The newest checkpoint is the state at its window's end; the stop state is the resume point.
    ckpt = load_checkpoint(paths.checkpoint(0))
    assert window <= ckpt["env_steps_total"] < window + num_envs
    assert load_checkpoint(resume_point(paths))["env_steps_total"] == stopped_at

    monkeypatch.undo()
    stop_at_call(monkeypatch, backend_class, 4)  # stopped again, still inside window 1
    assert train(tmp_path, "--resume", str(paths.root)) == EXIT_SIGTERM
    assert read_metadata(paths).env_steps_total == stopped_at + 4 * num_envs
    assert len(windows_of(paths)) == 1

    monkeypatch.undo()
    assert train(tmp_path, "--resume", str(paths.root)) == 0
    assert without_timing(windows_of(paths)) == without_timing(uninterrupted[backend])
    meta = read_metadata(paths)
    assert meta.status == RunStatus.completed and meta.env_steps_total == total
    assert meta.latest_window == windows_of(paths)[-1]
    assert not resume_point(paths).exists()
    assert load_checkpoint(paths.checkpoint(meta.windows_emitted - 1))["env_steps_total"] == total


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_a_kill_after_the_last_window_before_its_checkpoint_resumes_to_a_checkpointed_end(
    tmp_path, monkeypatch, backend, uninterrupted
):
    flags, _, total = BACKENDS[backend]
    paths = RunPaths.of(tmp_path, "killed")
    last = len(uninterrupted[backend]) - 1
    kill_at(monkeypatch, "save_checkpoint", lambda args: args[0] == paths.checkpoint(last))
    with pytest.raises(Killed):
        train(tmp_path, "--run-id", "killed", *flags, "--total-env-steps", str(total))
    assert read_metadata(paths).status == RunStatus.running
    assert len(windows_of(paths)) == last + 1 and checkpoint_ids(paths) == list(range(last))

    monkeypatch.undo()
    assert train(tmp_path, "--resume", str(paths.root)) == 0
    assert without_timing(windows_of(paths)) == without_timing(uninterrupted[backend])
    assert checkpoint_ids(paths)[-1] == last
    assert load_checkpoint(paths.checkpoint(last))["env_steps_total"] == total
    assert read_metadata(paths).status == RunStatus.completed


def test_a_kill_while_saving_the_stop_state_loses_no_window(tmp_path, monkeypatch, uninterrupted):
    flags, backend_class, total = BACKENDS["random"]
    paths = RunPaths.of(tmp_path, "k")
    stop_at_call(monkeypatch, backend_class, 50)
    kill_at(monkeypatch, "save_checkpoint", lambda args: args[0] == resume_point(paths))
    with pytest.raises(Killed):
        train(tmp_path, "--run-id", "k", *flags, "--total-env-steps", str(total))
    monkeypatch.undo()
    assert train(tmp_path, "--resume", str(paths.root)) == 0
    assert without_timing(windows_of(paths)) == without_timing(uninterrupted["random"])


def test_a_torn_last_line_is_cut_before_the_resumed_run_appends(tmp_path, monkeypatch, uninterrupted):
    flags, backend_class, total = BACKENDS["random"]
    paths = RunPaths.of(tmp_path, "torn")
    stop_at_call(monkeypatch, backend_class, 50)
    assert train(tmp_path, "--run-id", "torn", *flags, "--total-env-steps", str(total)) == EXIT_SIGTERM
    monkeypatch.undo()
    with open(paths.windows, "ab") as f:
        f.write(b'{"window_id": 1, "env_st')  # a writer killed mid-line
    assert train(tmp_path, "--resume", str(paths.root)) == 0
    assert without_timing(windows_of(paths)) == without_timing(uninterrupted["random"])


def test_extending_a_completed_run_continues_on_the_grid(tmp_path):
    flags, _, _ = BACKENDS["random"]
    paths = RunPaths.of(tmp_path, "ext")
    assert train(tmp_path, "--run-id", "ext", *flags, "--total-env-steps", "1200") == 0
    assert train(tmp_path, "--resume", str(paths.root), "--total-env-steps", "2300") == 0
    spans = [(r["window_id"], r["env_steps_start"], r["env_steps_end"]) for r in windows_of(paths)]
    # The old short last window stays; the next one runs to the next multiple of 500.
    assert spans == [(0, 0, 500), (1, 500, 1000), (2, 1000, 1200), (3, 1200, 1500), (4, 1500, 2000), (5, 2000, 2300)]
    meta = read_metadata(paths)
    assert meta.status == RunStatus.completed and meta.target_env_steps == meta.env_steps_total == 2300


def test_a_resume_below_the_steps_already_trained_exits_2(tmp_path, capsys):
    flags, _, _ = BACKENDS["random"]
    assert train(tmp_path, "--run-id", "r", *flags, "--total-env-steps", "1000") == 0
    with pytest.raises(SystemExit) as exc:
        train(tmp_path, "--resume", str(tmp_path / "r"), "--total-env-steps", "600")
    assert exc.value.code == 2
    assert "argument --total-env-steps" in capsys.readouterr().err
