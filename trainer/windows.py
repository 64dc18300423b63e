"""Cutting a stream of batched env steps into metrics windows.

An env step is one decision of one env; a batch step of N envs is N env steps, taken in env
index order. Windows lie on a fixed grid: window k covers env steps [k*W, min((k+1)*W, total))
with W = `window_env_steps`, so the last window of a run may be shorter than W. A batch that
crosses a boundary is split: envs `[0, r)` finish the old window, the rest start the next one
(possibly closing further windows when a batch is larger than a window). An episode belongs to
the window of the env step in which it ended. Per-step sums are kept per env in preallocated
arrays and reduced only when a window closes, so each batch step costs a few numpy operations
whatever N is.

A window that opens where an earlier, shorter total ended (a run extended with a larger total)
runs to the next multiple of W, so boundaries stay on the grid.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from trainer.rundir import utc_now
from trainer.window_record import WindowRecord

# Window-record fields computed as the mean of one episode statistic over the window's episodes.
EPISODE_MEANS: dict[str, str] = {
    "return_mean": "return",
    "length_mean": "length",
    "length_ticks_mean": "ticks",
    "net_profit_mean": "net_profit",
    "survival_rate": "survival",
    "destroyed_rate": "destroyed",
    "stranded_rate": "stranded",
    "cash_out_rate": "cash_out",
    "pirate_encounters_mean": "pirate_encounters",
    "value_lost_to_pirates_mean": "value_lost_to_pirates",
}

# The window-record fields computed over the episodes that ended in the window (null if none).
EPISODE_FIELDS = ("return_mean", "return_min", "return_max", *list(EPISODE_MEANS)[1:])

# Every field of a window record, in the order written, with its meaning: the fields of the
# WindowRecord model (README "Trainer"; the service types metrics with the same model).
WINDOW_FIELDS: dict[str, str] = {name: field.description or "" for name, field in WindowRecord.model_fields.items()}


class StepClock:
    """The wall seconds of each batch step for `WindowAccumulator.add_step`: the time since the
    previous lap, less the time spent `paused()` (evaluation, replays), which is left out of
    the windows' sps and elapsed_s."""

    def __init__(self) -> None:
        self.start()

    def start(self) -> None:
        """Start timing the first step now."""
        self._last = time.perf_counter()

    def lap(self) -> float:
        """The seconds since the previous lap (or start), paused time left out."""
        now = time.perf_counter()
        seconds, self._last = now - self._last, now
        return seconds

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Leave the time spent inside out of the next lap."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self._last += time.perf_counter() - start


class WindowAccumulator:
    """Feeds on batch steps and returns each window record as soon as the window closes.

    A window's sps counts the seconds given with its steps (a StepClock's laps leave paused
    time out)."""

    def __init__(
        self,
        window_env_steps: int,
        total_env_steps: int,
        num_envs: int,
        stat_names: Sequence[str],
        action_families: Sequence[tuple[str, int, int]],
    ) -> None:
        self.window_env_steps = window_env_steps
        self.total_env_steps = total_env_steps
        self.num_envs = num_envs
        self._stat_col = {name: stat_names.index(name) for name in set(EPISODE_MEANS.values())}
        self._num_stats = len(stat_names)
        # Run totals of everything fed so far, the open window included.
        self.env_steps = 0
        self.episodes = 0
        self.seconds = 0.0
        self.next_window_id = 0
        # The open window.
        self._window_start = 0
        self._window_ticks_start = 0
        self._window_seconds = 0.0
        self._reward_sum = np.zeros(num_envs, np.float64)
        self._invalid_count = np.zeros(num_envs, np.int64)
        self._tick_count = np.zeros(num_envs, np.int64)
        self._families = list(action_families)  # (name, first action, last action)
        self._action_count = np.zeros(max(last for _, _, last in self._families) + 1, np.int64)
        self._episode_rows: list[np.ndarray] = []

    @property
    def steps_in_window(self) -> int:
        return self.env_steps - self._window_start

    @property
    def window_end(self) -> int:
        """The env step at which the open window closes: the next multiple of W, or the total."""
        grid_end = (self._window_start // self.window_env_steps + 1) * self.window_env_steps
        return min(grid_end, self.total_env_steps)

    @property
    def ticks(self) -> int:
        """Game ticks of everything fed so far, the open window included."""
        return self._window_ticks_start + int(self._tick_count.sum())

    def add_step(
        self,
        rewards: np.ndarray,
        ticks: np.ndarray,
        invalid: np.ndarray,
        actions: np.ndarray,
        finished: np.ndarray,
        episode_stats: np.ndarray,
        seconds: float,
    ) -> list[dict[str, Any]]:
        """Add one batch step of n <= num_envs env steps (the first n envs of the batch), n no
        more than the env steps left to total_env_steps.

        `rewards`, `ticks`, `invalid` and `actions` hold the n envs' values for this step; `finished` the
        indices of envs whose episode ended in it (indices >= n are ignored) and
        `episode_stats` a (num_envs, len(stat_names)) array valid at those rows; `seconds` the
        wall time the batch step took. Returns the records of the windows it closed.
        """
        n = len(rewards)
        if finished.size:
            finished = finished[finished < n]
        closed = []
        start = 0
        while start < n:
            end = min(n, start + self.window_end - self.env_steps)
            self._add_segment(start, end, rewards, ticks, invalid, actions, finished, episode_stats)
            self._window_seconds += seconds * (end - start) / n
            if self.env_steps == self.window_end:
                closed.append(self._record(complete=True))
                self._next_window()
            start = end
        self.seconds += seconds
        return closed

    def _add_segment(
        self,
        start: int,
        end: int,
        rewards: np.ndarray,
        ticks: np.ndarray,
        invalid: np.ndarray,
        actions: np.ndarray,
        finished: np.ndarray,
        episode_stats: np.ndarray,
    ) -> None:
        self._reward_sum[start:end] += rewards[start:end]
        self._action_count += np.bincount(actions[start:end], minlength=len(self._action_count))
        self._tick_count[start:end] += ticks[start:end]
        self._invalid_count[start:end] += invalid[start:end]
        self.env_steps += end - start
        if finished.size:
            ended = finished[(finished >= start) & (finished < end)]
            if ended.size:
                self._episode_rows.append(episode_stats[ended])
                self.episodes += ended.size

    def snapshot(self) -> dict[str, Any] | None:
        """The open window's record so far (window_complete=false), leaving it open; None if
        it is empty. For a run that stops inside a window: its progress, not a grid window."""
        if self.steps_in_window == 0:
            return None
        return self._record(complete=False)

    def _record(self, complete: bool) -> dict[str, Any]:
        steps = self.steps_in_window
        ticks_in_window = int(self._tick_count.sum())
        rows = self._episode_array()
        record: dict[str, Any] = {
            "window_id": self.next_window_id,
            "window_complete": complete,
            "env_steps_start": self._window_start,
            "env_steps_end": self.env_steps,
            "env_steps_in_window": steps,
            "env_steps_total": self.env_steps,
            "ticks_in_window": ticks_in_window,
            "ticks_total": self._window_ticks_start + ticks_in_window,
            "episodes": len(rows),
        }
        record.update(self._episode_fields(rows))
        record.update(
            reward_per_step_mean=float(self._reward_sum.sum()) / steps,
            invalid_action_rate=int(self._invalid_count.sum()) / steps,
            action_fractions={
                name: int(self._action_count[first : last + 1].sum()) / steps for name, first, last in self._families
            },
            sps=steps / self._window_seconds if self._window_seconds > 0 else None,
            elapsed_s=round(self.seconds, 3),
            time=utc_now(),
        )
        return record

    def _next_window(self) -> None:
        self.next_window_id += 1
        self._window_start = self.env_steps
        self._window_ticks_start += int(self._tick_count.sum())
        self._window_seconds = 0.0
        self._reward_sum[:] = 0
        self._tick_count[:] = 0
        self._invalid_count[:] = 0
        self._action_count[:] = 0
        self._episode_rows = []

    def _episode_array(self) -> np.ndarray:
        if not self._episode_rows:
            return np.empty((0, self._num_stats))
        return np.concatenate(self._episode_rows)

    def _episode_fields(self, rows: np.ndarray) -> dict[str, float | None]:
        if len(rows) == 0:
            return dict.fromkeys(EPISODE_FIELDS)
        fields = {name: float(rows[:, self._stat_col[stat]].mean()) for name, stat in EPISODE_MEANS.items()}
        returns = rows[:, self._stat_col["return"]]
        fields["return_min"] = float(returns.min())
        fields["return_max"] = float(returns.max())
        return {name: fields[name] for name in EPISODE_FIELDS}

    def state_dict(self) -> dict[str, Any]:
        """Counters and the open window's partial sums, for a checkpoint."""
        return {
            "env_steps": self.env_steps,
            "episodes": self.episodes,
            "seconds": self.seconds,
            "next_window_id": self.next_window_id,
            "window_start": self._window_start,
            "window_ticks_start": self._window_ticks_start,
            "window_seconds": self._window_seconds,
            "reward_sum": self._reward_sum.copy(),
            "tick_count": self._tick_count.copy(),
            "invalid_count": self._invalid_count.copy(),
            "action_count": self._action_count.copy(),
            "episode_rows": self._episode_array(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what state_dict() returned (arrays may come back as numpy arrays)."""
        self.env_steps = int(state["env_steps"])
        self.episodes = int(state["episodes"])
        self.seconds = float(state["seconds"])
        self.next_window_id = int(state["next_window_id"])
        self._window_start = int(state["window_start"])
        self._window_ticks_start = int(state["window_ticks_start"])
        self._window_seconds = float(state["window_seconds"])
        self._reward_sum[:] = state["reward_sum"]
        self._tick_count[:] = state["tick_count"]
        self._invalid_count[:] = state["invalid_count"]
        self._action_count[:] = state.get("action_count", 0)  # absent in checkpoints made before it
        rows = np.asarray(state["episode_rows"])
        self._episode_rows = [rows] if len(rows) else []
