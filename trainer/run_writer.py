"""What a trainer writes about its run: windows.jsonl, run_metadata.json, checkpoints,
replays, W&B and console lines. The training loop (trainer.train) decides when; RunWriter how.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from trainer.checkpoint import checkpoint_ids, checkpoints_to_prune, save_checkpoint
from trainer.config import TrainConfig
from trainer.evaluate import ActFn
from trainer.logs import logger
from trainer.replay_writer import BEST_SO_FAR, MILESTONE_TAG, ReplayWriter
from trainer.rundir import (
    BestCheckpoint,
    ErrorKind,
    JsonlAppender,
    LatestCheckpoint,
    MilestoneReached,
    ReplayEntry,
    RunMetadata,
    RunPaths,
    RunStatus,
    collapse_of,
    config_fields,
    read_metadata,
    update_status,
    utc_now,
    write_json_atomic,
    write_metadata,
)
from trainer.windows import WindowAccumulator

if TYPE_CHECKING:
    from trainer.wandb_logger import WandbLogger

# The evaluation field that ranks checkpoints for retention (the best one is kept).
BEST_CHECKPOINT_BY = "eval_net_profit_mean"
COUNTER_FIELDS = {
    "env_steps_total",
    "ticks_total",
    "episodes_total",
    "windows_emitted",
    "checkpoints_written",
}


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
        for stale in (
            *self.paths.root.glob(".*.tmp"),
            *self.paths.checkpoints_dir.glob(".*.tmp"),
            *self.paths.logs_dir.glob(".*.tmp"),
        ):
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
