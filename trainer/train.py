"""The training loop shared by every backend, and the writer of the run directory.

    env step (batch) -> WindowAccumulator -> closed windows -> RunWriter
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
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import torch

from trainer.backends import BACKENDS, Backend
from trainer.checkpoint import (
    checkpoint_ids,
    checkpoints_to_prune,
    load_checkpoint,
    newest_checkpoint,
    save_checkpoint,
)
from trainer.config import TrainConfig
from trainer.env import ACTION_FAMILIES, EPISODE_STATS
from trainer.evaluate import ActFn
from trainer.logs import logger
from trainer.milestones import MilestoneTracker
from trainer.replay_writer import BEST_SO_FAR, MILESTONE_TAG, ReplayWriter
from trainer.rundir import (
    BestCheckpoint,
    ErrorKind,
    JsonlAppender,
    LatestCheckpoint,
    RunMetadata,
    RunPaths,
    MilestoneReached,
    ReplayEntry,
    RunStatus,
    collapse_of,
    config_fields,
    read_complete_lines,
    read_metadata,
    update_status,
    utc_now,
    write_json_atomic,
    write_metadata,
)
from trainer.vector import VectorEnv, make_vector_env
from trainer.windows import WindowAccumulator

if TYPE_CHECKING:
    from trainer.wandb_logger import WandbLogger

EXIT_FAILED = 1
# The evaluation field that ranks checkpoints for retention (the best one is kept).
BEST_CHECKPOINT_BY = "eval_net_profit_mean"
COUNTER_FIELDS = {
    "env_steps_total",
    "ticks_total",
    "episodes_total",
    "windows_emitted",
    "checkpoints_written",
}


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


class RunWriter:
    """Everything a trainer writes about its run: files, metadata, W&B and console lines."""

    def __init__(self, paths: RunPaths, config: TrainConfig) -> None:
        self.paths = paths
        self.config = config
        self.wandb: WandbLogger | None = None
        self.meta: RunMetadata | None = None
        self._windows: JsonlAppender | None = None
        self.replays = ReplayWriter(paths, config)

    def start(self, *, resume: bool) -> None:
        """Write config.json and move the run to `starting` (creating its metadata if needed)."""
        self.paths.make_dirs()
        for stale in (*self.paths.root.glob(".*.tmp"), *self.paths.checkpoints_dir.glob(".*.tmp")):
            stale.unlink()  # left by a killed trainer: we hold the lock, so nobody is writing them
        write_json_atomic(self.paths.config, self.config.model_dump(mode="json"))
        fields: dict[str, Any] = {
            **config_fields(self.config),
            "pid": os.getpid(),
            "error": None,
            "error_kind": None,
            "exit_code": None,
            **self._replay_fields(),
        }
        if not self.paths.metadata.exists():
            now = utc_now()
            meta = RunMetadata(
                run_id=self.paths.run_id, status=RunStatus.starting, created_at=now, updated_at=now, **fields
            )
            write_metadata(self.paths, meta)
            self.meta = meta
            return
        if read_metadata(self.paths).status == RunStatus.running:
            # Our caller holds the lock, so whoever left it `running` is gone.
            update_status(
                self.paths, RunStatus.interrupted, error="trainer process vanished", error_kind=ErrorKind.interrupted
            )
        self.meta = update_status(self.paths, RunStatus.starting, resuming=resume, **fields)

    def _replay_fields(self) -> dict[str, Any]:
        """The metadata fields of the run's replays, from replay_index.json (made consistent
        with replays/ first: a killed trainer may have left either behind the other)."""
        if not self.paths.replay_index.exists() and self.config.eval_replays == 0:
            return {}
        index = self.replays.reconcile()
        fields: dict[str, Any] = {
            "latest_replay": index.replays[-1] if index.replays else None,
            "replay_index_path": str(self.paths.replay_index.relative_to(self.paths.root)),
        }
        notable = {entry.window_id for entry in index.replays if pins_checkpoint(entry)}
        if notable and self.paths.metadata.exists():
            pinned = read_metadata(self.paths).pinned_checkpoints
            fields["pinned_checkpoints"] = sorted({*pinned, *notable})
        return fields

    def record_replays(self, window_id: int, make_act: Callable[[int], ActFn]) -> None:
        """Record checkpoint `window_id`'s eval_replays replays (unless it has them already,
        from before a kill -9), tagged with the milestones the window reached. The checkpoint
        is pinned first, and unpinned if no replay is notable (see `pins_checkpoint`)."""
        if self.config.eval_replays == 0 or window_id in self.replays.index.windows():
            return
        was_pinned = window_id in self.meta.pinned_checkpoints
        self.pin_checkpoint(window_id)
        checkpoint_path = str(self.paths.checkpoint(window_id).relative_to(self.paths.root))
        tags = [m.tag for m in self.config.milestones if (m.metric, m.threshold) in self._milestones_of(window_id)]
        entries = self.replays.record(window_id, checkpoint_path, make_act, tags)
        changes: dict[str, Any] = {"latest_replay": entries[-1]}
        if not was_pinned and not any(pins_checkpoint(entry) for entry in entries):
            changes["pinned_checkpoints"] = [w for w in self.meta.pinned_checkpoints if w != window_id]
        self._update(self.meta.status, **changes)
        logger.info(
            "window %d: %d replay(s) recorded, net profit %s",
            window_id,
            len(entries),
            ", ".join(f"{entry.net_profit:,.0f}" for entry in entries),
        )

    def _milestones_of(self, window_id: int) -> set[tuple[str, float]]:
        return {(m.metric, m.threshold) for m in self.meta.milestones_reached if m.window_id == window_id}

    def open_wandb(self) -> None:
        """Start the W&B run (mode offline/online) and record its id and URL."""
        from trainer.wandb_logger import WandbLogger

        self.wandb = WandbLogger(self.config, self.paths.root)
        self._update(RunStatus.starting, wandb_run_id=self.wandb.run.id, wandb_run_url=self.wandb.url)

    def running(self, **run_info: Any) -> None:
        """Move to `running`, recording `run_info` (vector backend, device, policy...)."""
        self._windows = JsonlAppender(self.paths.windows)
        self._update(RunStatus.running, started_at=self.meta.started_at or utc_now(), **run_info)

    def window(
        self,
        record: dict[str, Any],
        windows: WindowAccumulator,
        checkpoint: dict[str, Any] | None,
        milestones: Sequence[MilestoneReached] = (),
    ) -> None:
        """Append a window record, write the window's checkpoint state if given, update the
        metadata once for both and the milestones the window reached, then report to W&B and
        the console."""
        self._windows.append(record)
        changes: dict[str, Any] = {"latest_window": record, **counters(windows)}
        if milestones:
            changes["milestones_reached"] = [*self.meta.milestones_reached, *milestones]
            for milestone in milestones:
                logger.info(
                    "milestone: %s reached %g (%g) in window %d",
                    milestone.metric,
                    milestone.threshold,
                    milestone.value,
                    milestone.window_id,
                )
        collapse = collapse_of(record) if self.meta.collapse is None else None
        if collapse is not None:
            changes["collapse"] = collapse
            logger.warning(
                "collapse: episodes in window %d last %.1f steps on average (cash-out rate %s): "
                "the policy has learned to end episodes at once",
                collapse.window_id,
                collapse.length_mean,
                _fmt(collapse.cash_out_rate, ".2f"),
            )
        if checkpoint is not None:
            changes.update(self._save_checkpoint(record, checkpoint))
        self._update(RunStatus.running, **changes)
        if self.wandb is not None:
            self.wandb.log_window(record)
        if checkpoint is not None:
            self._after_checkpoint(record["window_id"])
        logger.info(
            "window %d | env steps %d | ticks %d | %s sps | episodes %d | return mean %s",
            record["window_id"],
            record["env_steps_total"],
            record["ticks_total"],
            _fmt(record["sps"], ",.0f"),
            record["episodes"],
            _fmt(record["return_mean"], ".3f"),
        )

    def checkpoint(self, record: dict[str, Any], state: dict[str, Any]) -> None:
        """Write the missing checkpoint of a window already in windows.jsonl (trained again
        after a kill -9 left the window written but not its checkpoint)."""
        self._update(RunStatus.running, **self._save_checkpoint(record, state))
        self._after_checkpoint(record["window_id"])

    def stopped(
        self, partial: dict[str, Any] | None, windows: WindowAccumulator, state: dict[str, Any] | None
    ) -> None:
        """A run stopped inside a window: save `state` (if not saved yet) as the resume point
        and show the open window's progress so far (`partial`) as the latest window."""
        changes: dict[str, Any] = counters(windows)
        if partial is not None:
            changes["latest_window"] = partial
        if state is not None:
            save_checkpoint(
                self.paths.resume_point,
                {
                    "window_id": windows.next_window_id,
                    "env_steps_total": windows.env_steps,
                    "created_at": utc_now(),
                    **state,
                },
            )
            logger.info(
                "stopped inside window %d at env step %d: state saved to %s",
                windows.next_window_id,
                windows.env_steps,
                self.paths.resume_point.relative_to(self.paths.root),
            )
        self._update(RunStatus.running, **changes)

    def pin_checkpoint(self, window_id: int) -> None:
        """Keep checkpoint `window_id` whatever --keep-checkpoints says (for what points at it,
        e.g. a replay); recorded in run_metadata.json's `pinned_checkpoints`."""
        pinned = sorted({*self.meta.pinned_checkpoints, window_id})
        self._update(self.meta.status, pinned_checkpoints=pinned)

    def _save_checkpoint(self, record: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
        """Write checkpoints/ckpt_<window_id>.pt; return the metadata changes that point at it.

        Its env_steps_total is what the state has trained (`state["windows"]["env_steps"]`):
        the window's end plus the rest of the batch step that closed it, which the state's
        window accumulator holds as the next window's first steps.
        """
        window_id = record["window_id"]
        path = self.paths.checkpoint(window_id)
        env_steps_total = int(state["windows"]["env_steps"])
        created_at = utc_now()
        save_checkpoint(
            path,
            {"window_id": window_id, "env_steps_total": env_steps_total, "created_at": created_at, **state},
        )
        latest = LatestCheckpoint(
            window_id=window_id,
            env_steps_total=env_steps_total,
            path=str(path.relative_to(self.paths.root)),
            created_at=created_at,
        )
        changes: dict[str, Any] = {
            "latest_checkpoint": latest,
            "checkpoints_written": self.meta.checkpoints_written + 1,
        }
        score = record.get(BEST_CHECKPOINT_BY)
        best = self.meta.best_checkpoint
        if score is not None and (best is None or score > best.eval_net_profit_mean):
            changes["best_checkpoint"] = BestCheckpoint(window_id=window_id, eval_net_profit_mean=score)
        return changes

    def _after_checkpoint(self, window_id: int) -> None:
        """Report the new checkpoint to W&B, drop the resume point it supersedes and delete
        the checkpoints retention does not keep."""
        if self.wandb is not None:
            self.wandb.log_checkpoint(self.paths.checkpoint(window_id), window_id)
        self.paths.resume_point.unlink(missing_ok=True)
        protected = set(self.meta.pinned_checkpoints)
        if self.meta.best_checkpoint is not None:
            protected.add(self.meta.best_checkpoint.window_id)
        for old in checkpoints_to_prune(checkpoint_ids(self.paths), self.config.keep_checkpoints, protected):
            self.paths.checkpoint(old).unlink(missing_ok=True)

    def close_windows(self) -> None:
        """Close windows.jsonl (when training ends, however it ends)."""
        if self._windows is not None:
            self._windows.close()
            self._windows = None

    def finish(
        self,
        status: RunStatus,
        exit_code: int,
        *,
        error: str | None = None,
        error_kind: ErrorKind | None = None,
        **changes: Any,
    ) -> None:
        """Write the terminal status and close the W&B run."""
        meta = self._update(status, exit_code=exit_code, error=error, error_kind=error_kind, **changes)
        if self.wandb is not None:
            summary = {"status": status.value, **meta.model_dump(include=COUNTER_FIELDS)}
            self.wandb.finish(summary, exit_code)

    def _update(self, status: RunStatus, **changes: Any) -> RunMetadata:
        self.meta = update_status(self.paths, status, **changes)
        return self.meta


def pins_checkpoint(entry: ReplayEntry) -> bool:
    """Whether retention keeps a replay's checkpoint: for the notable ones (best so far, a
    milestone), so their policy can be replayed or evaluated again. Every replay is a whole
    game without its checkpoint; the others' checkpoints follow --keep-checkpoints."""
    return any(tag == BEST_SO_FAR or tag.startswith(MILESTONE_TAG) for tag in entry.tags)


def counters(windows: WindowAccumulator) -> dict[str, int]:
    """The metadata counters of everything trained so far."""
    return {
        "env_steps_total": windows.env_steps,
        "ticks_total": windows.ticks,
        "episodes_total": windows.episodes,
        "windows_emitted": windows.next_window_id,
    }


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


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
    torch.set_num_threads(config.torch_threads)
    env = make_vector_env(config)
    try:
        return _train_loop(config, writer, stop, env, resume=resume)
    finally:
        writer.close_windows()
        env.close()


def _train_loop(
    config: TrainConfig, writer: RunWriter, stop: StopRequest, env: VectorEnv, *, resume: bool
) -> WindowAccumulator:
    paths = writer.paths
    backend: Backend = BACKENDS[config.trainer_backend](config)
    windows = WindowAccumulator(
        config.window_env_steps, config.total_env_steps, config.num_envs, EPISODE_STATS, ACTION_FAMILIES
    )

    def state() -> dict[str, Any]:
        return {
            "trainer_backend": config.trainer_backend,
            "config": config.model_dump(mode="json"),
            "windows": windows.state_dict(),
            "env": env.get_state(),
            "backend": backend.state_dict(),
        }

    milestones = MilestoneTracker(config)
    replay_through = last_window_id(paths.windows) if resume else -1
    saved_env_steps = 0  # env steps of the newest state saved in the run directory
    restored = newest_state(paths) if resume else None
    if restored is not None:
        if not env.set_state(restored["env"]):
            logger.warning("the checkpoint holds no env state (%s workers): new episodes start", env.backend)
        backend.load_state_dict(restored["backend"])
        windows.load_state_dict(restored["windows"])
        saved_env_steps = windows.env_steps
        if windows.env_steps > config.total_env_steps:
            raise ValueError(
                f"the run has trained {windows.env_steps} env steps, more than total_env_steps "
                f"({config.total_env_steps})"
            )
        logger.info("resuming at env step %d (window %d)", windows.env_steps, windows.next_window_id)
    writer.running(vector_backend=env.backend, num_workers=env.workers, **backend.run_info())
    if restored is not None and restored["window_id"] < windows.next_window_id:
        # Restored from a checkpoint whose replays a kill -9 may have cut short.
        writer.record_replays(restored["window_id"], backend.replay_act())
    logger.info(
        "training %s: backend %s, %d envs, %d env steps in windows of %d",
        paths.run_id,
        config.trainer_backend,
        config.num_envs,
        config.total_env_steps,
        config.window_env_steps,
    )

    def emit(record: dict[str, Any]) -> None:
        """Write a closed window; every checkpoint_every_windows windows and at the last one,
        evaluate and checkpoint with it, then record the checkpoint's replays; check milestones
        (eval, milestone and replay time are left out of the windows' sps). A window already in windows.jsonl (trained
        again after a kill -9) only gets its checkpoint and replays."""
        nonlocal saved_env_steps, last
        record.update(backend.window_fields())
        due = (record["window_id"] + 1) % config.checkpoint_every_windows == 0 or (
            record["env_steps_end"] == config.total_env_steps
        )
        eval_start = time.perf_counter()
        if due:
            record.update(backend.evaluate())
        reached = milestones.reached(record, writer.meta.milestones_reached)
        last += time.perf_counter() - eval_start
        checkpoint = state() if due else None
        if record["window_id"] > replay_through:
            writer.window(record, windows, checkpoint, reached)
        elif checkpoint is not None:
            writer.checkpoint(record, checkpoint)
        if due:
            saved_env_steps = windows.env_steps
            replay_start = time.perf_counter()
            writer.record_replays(record["window_id"], backend.replay_act())
            last += time.perf_counter() - replay_start

    last = time.perf_counter()
    while windows.env_steps < config.total_env_steps and stop.signum is None:
        actions, finished = env.act_and_step(backend.act)
        backend.after_step(env)
        n = min(config.num_envs, config.total_env_steps - windows.env_steps)
        now = time.perf_counter()
        closed = windows.add_step(
            env.rewards[:n],
            env.step_ticks[:n],
            env.invalid_actions[:n],
            actions[:n],
            finished,
            env.episode_stats,
            now - last,
        )
        last = now
        for record in closed:
            emit(record)

    if windows.env_steps < config.total_env_steps:  # stopped inside the grid
        partial = windows.snapshot()
        if partial is not None and partial["window_id"] <= replay_through:
            partial = None  # that window is already in windows.jsonl
        writer.stopped(partial, windows, state() if windows.env_steps != saved_env_steps else None)
    return windows


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
