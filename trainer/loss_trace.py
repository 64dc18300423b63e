"""The last steps before each lost ship (`python -m trainer.evaluate --losses N`): which action
took it, with what hull and fuel left, how far from the station. A policy that earns well but
loses ships shows here whether it mined on with too little hull or travelled on too little fuel."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainer.env import EPISODE_STATS, ProspectorEnv
from trainer.env.rules import ACTION_NAMES

TRACE_STEPS = 4
TRACE_FIELDS = ("ticks", "hull", "fuel", "heat", "alert", "hops")
"""Recorded after each action: the episode's ticks so far, the ship's hull, fuel, heat and
pirate alert, and the hops from its node to the station."""


@dataclass
class LostShip:
    """One episode that ended destroyed or stranded, and its last steps (oldest first)."""

    episode: int
    ending: str
    actions: list[str]
    after: np.ndarray  # (steps, len(TRACE_FIELDS)): the values after each action

    def describe(self) -> str:
        steps = " | ".join(
            f"{action} h{row[1]:.3g} f{row[2]:.3g} heat{row[3]:.0f} alert{row[4]:.0f} hops{row[5]:.0f}"
            for action, row in zip(self.actions, self.after)
        )
        return f"episode {self.episode}, {self.ending} at tick {self.after[-1, 0]:,.0f}: {steps}"


class LossTracer:
    """An EpisodeObserver (trainer.evaluate) keeping each env's last `steps` actions and the
    TRACE_FIELDS after them in a ring, and at each batch's end the lost episodes' traces."""

    def __init__(self, steps: int = TRACE_STEPS) -> None:
        self.steps = steps
        self.lost: list[LostShip] = []
        self._first_episode = 0

    def start(self, env: ProspectorEnv, seeds: np.ndarray) -> None:
        n = env.num_envs
        self._actions = np.zeros((n, self.steps), dtype=np.int64)
        self._after = np.zeros((n, self.steps, len(TRACE_FIELDS)))
        self._count = np.zeros(n, dtype=np.int64)

    def step(self, env: ProspectorEnv, actions: np.ndarray, active: np.ndarray) -> None:
        rows = np.flatnonzero(active)
        slots = self._count[rows] % self.steps
        s = env.state
        self._actions[rows, slots] = actions[rows]
        for k, name in enumerate(TRACE_FIELDS[:-1]):
            self._after[rows, slots, k] = getattr(s, name)[rows]
        self._after[rows, slots, -1] = s.hops[rows, s.node[rows]]
        self._count[rows] += 1

    def finish(self, env: ProspectorEnv) -> None:
        destroyed = env.episode_stats[:, EPISODE_STATS.index("destroyed")] > 0
        stranded = env.episode_stats[:, EPISODE_STATS.index("stranded")] > 0
        for i in np.flatnonzero(destroyed | stranded):
            kept = min(int(self._count[i]), self.steps)
            order = (self._count[i] - kept + np.arange(kept)) % self.steps
            ending = " and ".join(name for name, lost in (("destroyed", destroyed), ("stranded", stranded)) if lost[i])
            actions = [ACTION_NAMES[a] for a in self._actions[i, order]]
            self.lost.append(LostShip(self._first_episode + int(i), ending, actions, self._after[i, order]))
        self._first_episode += env.num_envs
