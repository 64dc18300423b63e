"""The training loop shared by every backend.

    env step (batch) -> WindowAccumulator -> closed windows -> RunWriter (trainer.run_writer)
                                                              windows.jsonl, run_metadata.json,
                                                              checkpoints, W&B, console

`train()` runs one trainer process on one run directory; its caller holds the run's RunLock.

What survives a stop, a crash or a kill -9: windows.jsonl holds whole grid windows only, each
appended before its checkpoint is written. A run stopped inside a window (SIGTERM/SIGINT)
saves its state, the open window's sums included, as checkpoints/resume_point.pt and shows
that window's progress as `latest_window` (window_complete=false) in the metadata. A resumed
run continues from the newest saved state; windows it trains again because they were written
after that state (a kill -9) are not appended twice, but get the checkpoints they missed.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from trainer.backends import BACKENDS, Backend
from trainer.checkpoint import load_checkpoint, newest_checkpoint
from trainer.config import TrainConfig
from trainer.env import ACTION_FAMILIES, EPISODE_STATS
from trainer.logs import logger
from trainer.milestones import MilestoneTracker
from trainer.run_writer import RunWriter, counters
from trainer.rundir import ErrorKind, RunPaths, RunStatus, read_complete_lines
from trainer.vector import VectorEnv, make_vector_env
from trainer.windows import StepClock, WindowAccumulator

EXIT_FAILED = 1


class StopRequest:
    """Records SIGTERM/SIGINT so the loop can stop at the next step boundary."""

    def __init__(self) -> None:
        self.signum: int | None = None

    @contextmanager
    def installed(self) -> Iterator[StopRequest]:
        signums = (signal.SIGTERM, signal.SIGINT)
        previous = {s: signal.signal(s, self._handle) for s in signums}
        try:
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            logger.info("received %s: stopping at the next step boundary", signal.Signals(signum).name)
        self.signum = signum


def last_window_id(path: Path) -> int:
    """The window_id of the last whole line of windows.jsonl, -1 if there is none."""
    lines, _ = read_complete_lines(path)
    return json.loads(lines[-1])["window_id"] if lines else -1


def train(config: TrainConfig, paths: RunPaths, *, resume: bool = False) -> int:
    """Train into the run dir at `paths` until done, cancelled or failed; return the exit code.

    The caller holds the run's RunLock. With `resume`, the run continues from its newest saved
    state (`newest_state`); windows already in windows.jsonl are trained again without being
    written again.
    """
    writer = RunWriter(paths, config)
    writer.start(resume=resume)
    with StopRequest().installed() as stop:
        try:
            windows = _run(config, writer, stop, resume=resume)
        except Exception as exc:
            logger.exception("training failed")
            error = f"{type(exc).__name__}: {exc}"
            writer.finish(RunStatus.failed, EXIT_FAILED, error=error, error_kind=ErrorKind.exception)
            return EXIT_FAILED
    if stop.signum is not None:
        status, exit_code = RunStatus.cancelled, 128 + stop.signum
    else:
        status, exit_code = RunStatus.completed, 0
    writer.finish(status, exit_code, **counters(windows))
    logger.info("run %s %s after %d env steps", paths.run_id, status.value, windows.env_steps)
    return exit_code


def _run(config: TrainConfig, writer: RunWriter, stop: StopRequest, *, resume: bool) -> WindowAccumulator:
    """Train until total_env_steps or a stop signal; leave the final window and checkpoint written."""
    if config.wandb_mode != "disabled":
        writer.open_wandb()
    backend: Backend = BACKENDS[config.trainer_backend](config)  # first: it sets torch's threads
    env = make_vector_env(config)
    try:
        return _train_loop(config, writer, stop, env, backend, resume=resume)
    finally:
        writer.close_windows()
        env.close()


def _train_loop(
    config: TrainConfig, writer: RunWriter, stop: StopRequest, env: VectorEnv, backend: Backend, *, resume: bool
) -> WindowAccumulator:
    loop = TrainingLoop(config, writer, env, backend)
    restored = loop.restore() if resume else None
    writer.running(vector_backend=env.backend, num_workers=env.workers, **backend.run_info())
    if restored is not None and restored["window_id"] < loop.windows.next_window_id:
        # Restored from a checkpoint whose replays a kill -9 may have cut short.
        writer.record_replays(restored["window_id"], backend.replay_act())
    logger.info(
        "training %s: backend %s, %d envs, %d env steps in windows of %d",
        writer.paths.run_id,
        config.trainer_backend,
        config.num_envs,
        config.total_env_steps,
        config.window_env_steps,
    )
    loop.run(stop)
    return loop.windows


class TrainingLoop:
    """One trainer's walk over the window grid: batch steps in, closed windows (with their
    checkpoints and replays) out to the RunWriter."""

    def __init__(self, config: TrainConfig, writer: RunWriter, env: VectorEnv, backend: Backend) -> None:
        self.config = config
        self.writer = writer
        self.env = env
        self.backend = backend
        self.windows = WindowAccumulator(
            config.window_env_steps, config.total_env_steps, config.num_envs, EPISODE_STATS, ACTION_FAMILIES
        )
        self.milestones = MilestoneTracker(config)
        self.clock = StepClock()
        # Windows up to this id are in windows.jsonl already (trained again after a kill -9).
        self.written_through = -1
        # Env steps of the newest state saved in the run directory.
        self.saved_env_steps = 0

    def state(self) -> dict[str, Any]:
        """Everything a checkpoint or resume point holds."""
        return {
            "trainer_backend": self.config.trainer_backend,
            "config": self.config.model_dump(mode="json"),
            "windows": self.windows.state_dict(),
            "env": self.env.get_state(),
            "backend": self.backend.state_dict(),
        }

    def restore(self) -> dict[str, Any] | None:
        """Continue from the run directory: skip the windows already written, load the newest
        saved state (None if there is none); ValueError if it trained past total_env_steps."""
        self.written_through = last_window_id(self.writer.paths.windows)
        restored = newest_state(self.writer.paths)
        if restored is None:
            return None
        if not self.env.set_state(restored["env"]):
            logger.warning("the checkpoint holds no env state (%s workers): new episodes start", self.env.backend)
        self.backend.load_state_dict(restored["backend"])
        self.windows.load_state_dict(restored["windows"])
        self.saved_env_steps = self.windows.env_steps
        if self.windows.env_steps > self.config.total_env_steps:
            raise ValueError(
                f"the run has trained {self.windows.env_steps} env steps, more than total_env_steps "
                f"({self.config.total_env_steps})"
            )
        logger.info("resuming at env step %d (window %d)", self.windows.env_steps, self.windows.next_window_id)
        return restored

    def run(self, stop: StopRequest) -> None:
        """Step until total_env_steps or a stop signal, closing windows as they fill; a run
        stopped inside a window saves its state and shows the open window's progress."""
        config, env, backend, windows = self.config, self.env, self.backend, self.windows
        self.clock.start()
        while windows.env_steps < config.total_env_steps and stop.signum is None:
            actions, finished = env.act_and_step(backend.act)
            backend.after_step(env)
            n = min(config.num_envs, config.total_env_steps - windows.env_steps)
            closed = windows.add_step(
                env.rewards[:n],
                env.step_ticks[:n],
                env.invalid_actions[:n],
                actions[:n],
                finished,
                env.episode_stats,
                self.clock.lap(),
            )
            for record in closed:
                self.close_window(record)
        if windows.env_steps < config.total_env_steps:
            self.stop_inside_window()

    def checkpoint_due(self, record: dict[str, Any]) -> bool:
        """Whether the window closing with `record` is evaluated and checkpointed: every
        checkpoint_every_windows windows, and the last window of the run."""
        every = self.config.checkpoint_every_windows
        return (record["window_id"] + 1) % every == 0 or record["env_steps_end"] == self.config.total_env_steps

    def close_window(self, record: dict[str, Any]) -> None:
        """Write a closed window, evaluated and with its checkpoint when one is due, then record
        the checkpoint's replays; check milestones. Evaluation, milestone and replay time are
        left out of the windows' sps. A window already in windows.jsonl only gets its checkpoint
        and replays."""
        record.update(self.backend.window_fields())
        due = self.checkpoint_due(record)
        with self.clock.paused():
            if due:
                record.update(self.backend.evaluate())
            reached = self.milestones.reached(record, self.writer.meta.milestones_reached)
        checkpoint = self.state() if due else None
        if record["window_id"] > self.written_through:
            self.writer.window(record, self.windows, checkpoint, reached)
        elif checkpoint is not None:
            self.writer.checkpoint(record, checkpoint)
        if due:
            self.saved_env_steps = self.windows.env_steps
            with self.clock.paused():
                self.writer.record_replays(record["window_id"], self.backend.replay_act())

    def stop_inside_window(self) -> None:
        """Save the state of a run stopped inside the grid (unless saved already) and show the
        open window's progress, unless that window is already in windows.jsonl."""
        partial = self.windows.snapshot()
        if partial is not None and partial["window_id"] <= self.written_through:
            partial = None
        unsaved = self.windows.env_steps != self.saved_env_steps
        self.writer.stopped(partial, self.windows, self.state() if unsaved else None)


def newest_state(paths: RunPaths) -> dict[str, Any] | None:
    """The newest training state saved in the run directory: the resume point of a stopped
    run or the newest checkpoint, whichever has trained more env steps (a resume point that
    is not newer is deleted); None when there is neither."""
    candidates = (newest_checkpoint(paths), paths.resume_point)
    found = [(path, load_checkpoint(path)) for path in candidates if path is not None and path.exists()]
    if not found:
        return None
    path, newest = max(found, key=lambda item: item[1]["env_steps_total"])
    if path != paths.resume_point:
        paths.resume_point.unlink(missing_ok=True)
    logger.info("newest saved state: %s (env step %d)", path.relative_to(paths.root), newest["env_steps_total"])
    return newest
