"""Milestones: the first window (or its evaluation) whose metric reaches a threshold."""

from __future__ import annotations

from typing import Any

from trainer.config import OVER_GREEDY, TrainConfig
from trainer.env import RewardSpec
from trainer.evaluate import baseline_act, run_episodes
from trainer.logs import logger
from trainer.rundir import MilestoneReached, utc_now


class MilestoneTracker:
    """Checks window records against the run's `milestones` config."""

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self._greedy_net_profit: float | None = None

    def reached(self, record: dict[str, Any], already: list[MilestoneReached]) -> list[MilestoneReached]:
        """The milestones `record` reaches that no earlier window has."""
        done = {(m.metric, m.threshold) for m in already}
        found = []
        for milestone in self.config.milestones:
            if (milestone.metric, milestone.threshold) in done:
                continue
            value = self._value(record, milestone.metric)
            if value is not None and value >= milestone.threshold:
                done.add((milestone.metric, milestone.threshold))
                found.append(
                    MilestoneReached(
                        metric=milestone.metric,
                        threshold=milestone.threshold,
                        window_id=record["window_id"],
                        env_steps=record["env_steps_end"],
                        value=value,
                        time=utc_now(),
                    )
                )
        return found

    def _value(self, record: dict[str, Any], metric: str) -> float | None:
        if metric != OVER_GREEDY:
            return record.get(metric)
        evaluated = record.get("eval_net_profit_mean")
        return None if evaluated is None else evaluated - self.greedy_net_profit()

    def greedy_net_profit(self) -> float:
        """The greedy baseline's mean net profit on the run's evaluation episodes (played once)."""
        if self._greedy_net_profit is None:
            c = self.config
            result = run_episodes(
                baseline_act("greedy", c.eval_seed), c.eval_episodes, c.eval_seed, c.env_time_max,
                RewardSpec(**c.reward_kwargs()),
            )  # fmt: skip
            self._greedy_net_profit = float(result.column("net_profit").mean())
            logger.info("greedy baseline on the %d evaluation episodes: net profit %.2f", c.eval_episodes, self._greedy_net_profit)
        return self._greedy_net_profit
