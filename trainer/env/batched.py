"""`ProspectorEnv`: N Asteroid Prospector envs stepped together in one compiled call.

It follows PufferLib's native-env contract: observations, rewards, terminals and truncations
are preallocated arrays (borrowed from pufferlib's vector layer when it passes `buf`), and
`step` writes them in place. Finished episodes reset inside the same step with the env's next
seed; their statistics are reported through `infos` only when some episode ended.

It does not subclass `pufferlib.PufferEnv`: importing pufferlib imports torch (over a second
per process), which a random-backend run, a play session or an evaluation of the scripted
players never needs. The worker vector env's sub-env adds that base class
(trainer.worker_vector.SharedEnv).
"""

from __future__ import annotations

import copy
from typing import Any

import gymnasium
import numpy as np

from trainer.env.dynamics import reset_batch, start_seeded_episodes, step_batch
from trainer.env.observation import write_views
from trainer.env.reward import RewardSpec
from trainer.env.rules import (
    EPISODE_STATS,
    MAX_ASTEROIDS,
    MAX_NODES,
    N_ACTIONS,
    OBS_DIM,
    OBSERVATIONS,
    SCOUT_DIM,
    TIME_MAX,
)
from trainer.env.state import EnvState, EnvStateRef, allocate_state, state_ref

# The arrays with one row per env that a part of the batch (`ProspectorEnv.rows`) shares.
_ROW_ARRAYS = (
    "observations", "rewards", "terminals", "truncations", "masks", "actions", "action_mask", "step_ticks",
    "invalid_actions", "episode_stats", "final_observations",
)  # fmt: skip

def _check_positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _check_seed(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < 2**64:
        raise ValueError(f"{name} must be an integer in [0, 2**64), got {value!r}")
    return int(value)


def _per_asteroid(array: np.ndarray) -> bool:
    """Whether a state array has a row per (env, node, asteroid slot)."""
    return array.shape[1:3] == (MAX_NODES, MAX_ASTEROIDS)


def observation_size(observation: str = "spec") -> int:
    """Game values per observation row: 260 (spec 1.3), or 260 + SCOUT_DIM for `scouted`."""
    return OBS_DIM + (SCOUT_DIM if observation == "scouted" else 0)


class ProspectorEnv:
    """A batch of `num_envs` independent games, paying the reward `reward` describes
    (default: the `profit` profile, see trainer.env.reward). `observation="scouted"` adds, after
    the 260 values of spec 1.3, SCOUT_DIM values on what the player has seen of each
    neighbouring node (see observation.write_scouting).

    Public arrays, current after every `reset`/`step`:
      observations (N, 260) float32 (N, 329 with `mask_in_observation`: the mask as 0/1 after
      the 260 game values), rewards (N,) float32, terminals/truncations (N,) bool,
      action_mask (N, 69) bool, step_ticks (N,) int64 (the ticks each env's step cost),
      invalid_actions (N,) bool, episode_stats (N, len(EPISODE_STATS)) float64 and
      final_observations (same shape as observations): rows valid for the envs that finished.
    A step rewrites only what changed of an observation row (the asteroid and neighbour
    slots only when the action changed them), so treat these arrays as read-only.
    """

    def __init__(
        self,
        num_envs: int = 1,
        seed: int = 0,
        time_max: int = TIME_MAX,
        autoreset: bool = True,
        mask_in_observation: bool = False,
        buf: dict[str, np.ndarray] | None = None,
        reward: RewardSpec | None = None,
        observation: str = "spec",
    ) -> None:
        self.num_agents = _check_positive_int("num_envs", num_envs)
        self.time_max = _check_positive_int("time_max", time_max)
        self.seed = _check_seed("seed", seed)
        self.autoreset = bool(autoreset)
        self.reward = reward or RewardSpec()
        self._reward_args = self.reward.kernel_args()
        if observation not in OBSERVATIONS:
            raise ValueError(f"observation must be one of {OBSERVATIONS}, got {observation!r}")
        self.scouted = observation == "scouted"
        self.observation_size = observation_size(observation)
        width = self.observation_size + (N_ACTIONS if mask_in_observation else 0)
        self.single_observation_space = gymnasium.spaces.Box(-1.0, 1.0, (width,), np.float32)
        self.single_action_space = gymnasium.spaces.Discrete(N_ACTIONS)
        self._attach_buffers(buf)
        n = self.num_agents
        self.action_mask = np.zeros((n, N_ACTIONS), dtype=bool)
        self.step_ticks = np.zeros(n, dtype=np.int64)
        self.invalid_actions = np.zeros(n, dtype=bool)
        self.episode_stats = np.zeros((n, len(EPISODE_STATS)), dtype=np.float64)
        self.final_observations = np.zeros_like(self.observations)
        self._finished = np.zeros(n, dtype=np.int64)
        self.state = allocate_state(n)
        self._seeded = False

    @property
    def state(self) -> EnvState:
        """The state arrays (edit them in place, then `refresh_views`)."""
        return self._state

    @state.setter
    def state(self, state: EnvState) -> None:
        self._state = state
        self.kernel_state: EnvStateRef = state_ref(state)  # what the kernels take

    @property
    def num_envs(self) -> int:
        return self.num_agents

    def _attach_buffers(self, buf: dict[str, np.ndarray] | None) -> None:
        """Use the step-output arrays of `buf` (pufferlib's shared buffers), or allocate them."""
        n = self.num_agents
        if buf is None:
            buf = {
                "observations": np.zeros((n, *self.single_observation_space.shape), dtype=np.float32),
                "rewards": np.zeros(n, dtype=np.float32),
                "terminals": np.zeros(n, dtype=bool),
                "truncations": np.zeros(n, dtype=bool),
                "masks": np.ones(n, dtype=bool),
                "actions": np.zeros(n, dtype=np.int32),
            }
        self.observations = buf["observations"]
        self.rewards = buf["rewards"]
        self.terminals = buf["terminals"]
        self.truncations = buf["truncations"]
        self.masks = buf["masks"]
        self.actions = buf["actions"]

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """Start a new episode in every env. `seed` restarts every env's seed sequence from
        (seed, env index); `None` continues the sequences (the first reset uses the
        constructor's seed)."""
        reseed = seed is not None or not self._seeded
        if seed is not None:
            self.seed = _check_seed("seed", seed)
        reset_batch(
            self.kernel_state, np.uint64(self.seed), reseed, self.time_max, self.scouted, self.observations, self.action_mask
        )
        self._clear_step_outputs()
        return self.observations, []

    def start_episodes(self, episode_seeds: np.ndarray) -> np.ndarray:
        """Start an episode seeded exactly `episode_seeds[i]` in env i (evaluation, replays,
        the single-env wrapper); later episodes of env i follow from that seed."""
        seeds = np.asarray(episode_seeds)
        if seeds.shape != (self.num_agents,) or not np.issubdtype(seeds.dtype, np.integer) or (seeds < 0).any():
            raise ValueError(f"episode_seeds must be {self.num_agents} non-negative integers")
        start_seeded_episodes(
            self.kernel_state, seeds.astype(np.uint64), self.time_max, self.scouted, self.observations, self.action_mask
        )
        self._clear_step_outputs()
        return self.observations

    def _clear_step_outputs(self) -> None:
        self._seeded = True
        self.rewards[:] = 0.0
        self.terminals[:] = False
        self.truncations[:] = False
        self.step_ticks[:] = 0
        self.invalid_actions[:] = False

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        """Step every env with its action. Returns (observations, rewards, terminals,
        truncations, infos); infos is [] unless an episode ended, else
        [{"finished": env ids}] with their statistics in `episode_stats[finished]`."""
        if not self._seeded:
            raise RuntimeError("call reset() before step()")
        actions = np.asarray(actions)
        if actions.shape != (self.num_agents,):
            raise ValueError(f"actions must have shape ({self.num_agents},), got {actions.shape}")
        if not np.issubdtype(actions.dtype, np.integer):
            raise TypeError(f"actions must be an integer array, got dtype {actions.dtype}")
        n_finished = step_batch(
            self.kernel_state,
            actions.astype(np.int64, copy=False),
            self.time_max,
            self.scouted,
            self.autoreset,
            self._reward_args,
            self.observations,
            self.action_mask,
            self.rewards,
            self.terminals,
            self.truncations,
            self.step_ticks,
            self.invalid_actions,
            self.episode_stats,
            self.final_observations,
            self._finished,
        )
        infos = [{"finished": self._finished[:n_finished].copy()}] if n_finished else []
        return self.observations, self.rewards, self.terminals, self.truncations, infos

    def rows(self, lo: int, hi: int) -> ProspectorEnv:
        """Envs lo..hi-1 as a ProspectorEnv of their own that shares this one's state and
        arrays: stepping it steps those envs alone, exactly as a step of the whole batch would
        (e.g. two halves stepped by two threads). Reset the whole batch first."""
        part = copy.copy(self)
        part.num_agents = hi - lo
        for name in _ROW_ARRAYS:
            setattr(part, name, getattr(self, name)[lo:hi])
        part._finished = np.zeros(hi - lo, dtype=np.int64)
        part.state = EnvState(*(array[lo:hi] for array in self.state))
        return part

    def refresh_views(self) -> None:
        """Rewrite observations and action masks after the state was edited by hand."""
        for i in range(self.num_agents):
            write_views(self.kernel_state, i, self.time_max, self.scouted, self.observations, self.action_mask)

    def get_state(self) -> dict[str, np.ndarray]:
        """A copy of the full env state (for checkpoints).

        Arrays with a row per (node, asteroid slot) keep only the rows of the nodes visited
        this episode (`asteroids_ready`), in order: the other rows hold dead data (a first
        visit redraws them) and are ~90% of the state, which a checkpoint of every window
        would copy and compress (at 512 envs, 43 MiB: longer than the window's stepping).
        The observations and action masks are not in it: `set_state` rewrites them from the
        state (a step leaves every row as that full rewrite would).
        """
        visited = self.state.asteroids_ready
        return {
            name: array[visited] if _per_asteroid(array) else array.copy() for name, array in self.state._asdict().items()
        }

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore a state taken by `get_state` from an env of the same size, and rewrite the
        observations and action masks from it. (A state taken before get_state kept only the
        visited nodes' asteroid rows holds whole arrays, and its views, which are not needed.)"""
        visited = state["asteroids_ready"]
        for name, array in self.state._asdict().items():
            saved = state[name]
            if _per_asteroid(array) and saved.ndim < array.ndim:
                array[...] = 0
                array[visited] = saved
            else:
                array[...] = saved
        self.refresh_views()
        self._seeded = True

    def close(self) -> None:
        """Nothing to release: the env holds only arrays."""
