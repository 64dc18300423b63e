"""`ProspectorGymEnv`: one game behind the standard `gymnasium.Env` interface.

For people, scripts and checks; training uses the batched `ProspectorEnv`, which this wraps
with a batch of one and no auto-reset.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np

from trainer.env.batched import ProspectorEnv
from trainer.env.dynamics import ship_lost
from trainer.env.reward import RewardSpec
from trainer.env.rules import (
    N_ACTIONS,
    OBS_DIM,
    START_FUEL,
    START_HULL,
    START_TOOL,
    TIME_MAX,
)


class ProspectorGymEnv(gymnasium.Env):
    """A single Asteroid Prospector episode at a time. `reset(seed=s)` plays the episode
    seeded `s` (the same episode a batched env plays when its episode seed is `s`);
    `reset()` continues with the next seed of that sequence."""

    metadata = {"render_modes": []}

    def __init__(self, time_max: int = TIME_MAX, reward: RewardSpec | None = None) -> None:
        self._env = ProspectorEnv(num_envs=1, seed=0, time_max=time_max, autoreset=False, reward=reward)
        self.observation_space = gymnasium.spaces.Box(-1.0, 1.0, (OBS_DIM,), np.float32)
        self.action_space = gymnasium.spaces.Discrete(N_ACTIONS)
        self._action = np.zeros(1, dtype=np.int64)
        self._started = False

    @property
    def action_mask(self) -> np.ndarray:
        """The valid actions in the current state, (69,) bool."""
        return self._env.action_mask[0]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self._env.start_episodes(np.array([seed], dtype=np.uint64))
        elif not self._started:
            self._env.start_episodes(np.array([self.np_random.integers(2**63)], dtype=np.uint64))
        else:
            self._env.reset()
        self._started = True
        return self._env.observations[0].copy(), self._info(action=-1, dt=0, invalid=False)

    def step(self, action: int):
        if not self._started or self._env.state.done[0]:
            raise RuntimeError("the episode has ended (or not started): call reset()")
        if isinstance(action, (bool, np.bool_)) or not isinstance(action, (int, np.integer)):
            raise TypeError(f"action must be an int, got {type(action).__name__}")
        if not 0 <= action < N_ACTIONS:
            raise ValueError(f"action must be in [0, {N_ACTIONS}), got {action}")
        self._action[0] = action
        _, rewards, terminals, truncations, _ = self._env.step(self._action)
        terminated, truncated = bool(terminals[0]), bool(truncations[0])
        obs = (self._env.final_observations if terminated or truncated else self._env.observations)[0]
        info = self._info(action=int(action), dt=int(self._env.step_ticks[0]), invalid=bool(self._env.invalid_actions[0]))
        info.update(terminated=terminated, truncated=truncated)
        return obs.copy(), float(rewards[0]), terminated, truncated, info

    def _info(self, action: int, dt: int, invalid: bool) -> dict[str, Any]:
        """The per-step info of spec 1.8 (net_profit as fixed by spec 2.1)."""
        s = self._env.state
        ticks = int(s.ticks[0])
        credits = float(s.credits[0])
        destroyed, stranded = ship_lost(float(s.hull[0]), float(s.fuel[0]), int(s.node[0]))
        return {
            "action": action,
            "dt": dt,
            "invalid_action": invalid,
            "credits": credits,
            "net_profit": credits,
            "profit_per_tick": credits / max(1, ticks),
            "survival": 0.0 if destroyed or stranded else 1.0,
            "overheat_ticks": int(s.overheat_ticks[0]),
            "pirate_encounters": int(s.pirate_encounters[0]),
            "value_lost_to_pirates": float(s.value_lost_to_pirates[0]),
            "fuel_used": max(0.0, START_FUEL - float(s.fuel[0])),
            "hull_damage": max(0.0, START_HULL - float(s.hull[0])),
            "tool_wear": max(0.0, START_TOOL - float(s.tool[0])),
            "scan_count": int(s.scan_count[0]),
            "mining_ticks": int(s.mining_ticks[0]),
            "cargo_utilization_avg": float(s.cargo_utilization_sum[0]) / max(1, ticks),
            "terminated": False,
            "truncated": False,
            "node_context": "station" if s.node[0] == 0 else "field",
            "time_remaining": int(s.time_remaining[0]),
            "action_mask": self._env.action_mask[0].copy(),
        }
