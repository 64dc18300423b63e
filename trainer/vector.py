"""The batched env as the training loop sees it, whichever vector backend runs it.

`make_vector_env(config)` gives one of two classes with the same surface (`VectorEnv`):

- `NativeVectorEnv` (`vector_backend` native, the default): one in-process ProspectorEnv of
  num_envs games, made as `pufferlib.vector.make(ProspectorEnv)` would make it but without
  importing pufferlib (which imports torch); the loop reads its arrays directly. With
  `batch_threads` k > 1 its envs are stepped in k parts (`ProspectorEnv.rows`), each by its
  own thread right after that part's actions are chosen (see trainer.parts).
- `WorkerVectorEnv` (serial / multiprocessing, in trainer.worker_vector): `num_workers`
  sub-envs of num_envs / workers games each, stepped in turn in this process or in
  shared-memory worker processes. pufferlib shares only observations, rewards, terminals and
  truncations, so each sub-env (`SharedEnv`) carries its action mask in the observation (the
  69 columns after the 260 game values) and sends its per-step extras (ticks, invalid
  actions, finished episodes' statistics and final observations) as its step info.

On 2 busy cores, multiprocessing workers spin while waiting and run far slower than native.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from trainer.config import TrainConfig
from trainer.env import ProspectorEnv, RewardSpec
from trainer.parts import PartRunner, batch_parts

NO_ENVS = np.empty(0, np.int64)

PartAct = Callable[[np.ndarray, np.ndarray, int], np.ndarray]
"""act(observations, action_mask, part): the actions of one part's envs (as `Backend.act`)."""


class VectorEnv(Protocol):
    """The loop's view of the batch: current `observations` (N, 260) and `action_mask`
    (N, 69); after a step: `rewards`, `terminals`, `truncations`, `step_ticks`,
    `invalid_actions`, and at the rows of the finished envs `episode_stats` and
    `final_observations` (the last observation of the episode, for bootstrapping).
    `backend` names the vector backend, `workers` its worker count."""

    backend: str
    workers: int
    observations: np.ndarray
    action_mask: np.ndarray
    rewards: np.ndarray
    terminals: np.ndarray
    truncations: np.ndarray
    step_ticks: np.ndarray
    invalid_actions: np.ndarray
    episode_stats: np.ndarray
    final_observations: np.ndarray

    def act_and_step(self, act: PartAct) -> tuple[np.ndarray, np.ndarray]:
        """Choose every env's action with `act` and step it; return (actions, the indices of
        the envs whose episode ended, in order: they have already been reset)."""
        ...

    def step(self, actions: np.ndarray) -> np.ndarray:
        """Step every env with `actions`; return the indices of the finished envs."""
        ...

    def get_state(self) -> dict[str, Any]:
        """The env state for a checkpoint ({} when it lives in worker processes)."""
        ...

    def set_state(self, state: dict[str, Any]) -> bool:
        """Restore `get_state()`; False when there was no env state to restore."""
        ...

    def close(self) -> None:
        """Release the env (threads, worker processes)."""
        ...


def make_vector_env(config: TrainConfig) -> VectorEnv:
    """The vector env `config.vector_backend` asks for."""
    if config.vector_backend == "native":
        return NativeVectorEnv(config)
    from trainer.worker_vector import WorkerVectorEnv  # pufferlib, and with it torch, only when asked for

    return WorkerVectorEnv(config)


def training_env(config: TrainConfig) -> ProspectorEnv:
    """The batch of envs a native trainer of `config` steps, reset."""
    env = ProspectorEnv(
        num_envs=config.num_envs,
        seed=config.seed,
        time_max=config.env_time_max,
        reward=RewardSpec(**config.reward_kwargs()),
        observation=config.env_observation,
    )
    env.reset()
    return env


def _bind(target: object, env: ProspectorEnv) -> None:
    """Point `target`'s step-output attributes at `env`'s arrays."""
    for name in (
        "observations",
        "action_mask",
        "rewards",
        "terminals",
        "truncations",
        "step_ticks",
        "invalid_actions",
        "episode_stats",
        "final_observations",
    ):
        setattr(target, name, getattr(env, name))


class NativeVectorEnv:
    """One in-process ProspectorEnv, stepped in `batch_threads` parts."""

    backend = "native"
    workers = 1

    def __init__(self, config: TrainConfig) -> None:
        self.env = training_env(config)
        _bind(self, self.env)
        self.actions = np.zeros(config.num_envs, dtype=np.int64)
        self.rows = batch_parts(config.num_envs, config.batch_threads)
        self.parts = [self.env.rows(r.start, r.stop) for r in self.rows]
        self.runner = PartRunner(config.batch_threads)

    def act_and_step(self, act: PartAct) -> tuple[np.ndarray, np.ndarray]:
        def part(k: int) -> np.ndarray:
            env, rows = self.parts[k], self.rows[k]
            self.actions[rows] = act(env.observations, env.action_mask, k)
            _, _, _, _, infos = env.step(self.actions[rows])
            return infos[0]["finished"] + rows.start if infos else NO_ENVS

        return self.actions, np.concatenate(self.runner.map(part))

    def step(self, actions: np.ndarray) -> np.ndarray:
        _, _, _, _, infos = self.env.step(actions)
        return infos[0]["finished"] if infos else NO_ENVS

    def get_state(self) -> dict[str, Any]:
        return self.env.get_state()

    def set_state(self, state: dict[str, Any]) -> bool:
        if not state:
            return False
        self.env.set_state(state)
        return True

    def close(self) -> None:
        self.runner.close()
        self.env.close()
