"""The batched env as the training loop sees it, whichever `pufferlib.vector` backend runs it.

`make_vector_env(config)` gives one of two classes with the same surface (`VectorEnv`):

- `NativeVectorEnv` (`vector_backend` native, the default):
  `pufferlib.vector.make(ProspectorEnv, backend=pufferlib.PufferEnv)`, one in-process
  ProspectorEnv of num_envs games; the loop reads its arrays directly. With `batch_threads`
  k > 1 its envs are stepped in k parts (`ProspectorEnv.rows`), each by its own thread right
  after that part's actions are chosen (see trainer.parts).
- `WorkerVectorEnv` (serial / multiprocessing): `num_workers` sub-envs of num_envs / workers
  games each, stepped in turn in this process or in shared-memory worker processes. pufferlib
  shares only observations, rewards, terminals and truncations, so each sub-env (`SharedEnv`)
  carries its action mask in the observation (the 69 columns after the 260 game values) and
  sends its per-step extras (ticks, invalid actions, finished episodes' statistics and final
  observations) as its step info.

On 2 busy cores, multiprocessing workers spin while waiting and run far slower than native.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import pufferlib
import pufferlib.vector

from trainer.config import TrainConfig
from trainer.env import EPISODE_STATS, N_ACTIONS, ProspectorEnv, RewardSpec
from trainer.env.batched import observation_size
from trainer.parts import PartRunner, batch_parts

NO_ENVS = np.empty(0, np.int64)


class SharedEnv(ProspectorEnv):
    """A sub-env of a serial or multiprocessing vector env: the mask rides in the observation
    and every step's info holds what the loop needs beyond the shared buffers."""

    def __init__(
        self,
        num_envs: int,
        time_max: int,
        offset: int,
        reward: RewardSpec,
        observation: str,
        buf: dict[str, np.ndarray] | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(
            num_envs,
            seed,
            time_max,
            autoreset=True,
            mask_in_observation=True,
            buf=buf,
            reward=reward,
            observation=observation,
        )
        self.offset = offset

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        obs, rewards, terminals, truncations, infos = super().step(actions)
        finished = infos[0]["finished"] if infos else NO_ENVS
        extras = {
            "offset": self.offset,
            "step_ticks": self.step_ticks.copy(),
            "invalid_actions": self.invalid_actions.copy(),
            "finished": finished,
            "episode_stats": self.episode_stats[finished],
            "final_observations": self.final_observations[finished, : self.observation_size],
        }
        return obs, rewards, terminals, truncations, [extras]


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
    return WorkerVectorEnv(config)


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
        self.env: ProspectorEnv = pufferlib.vector.make(
            ProspectorEnv,
            env_kwargs={
                "num_envs": config.num_envs,
                "seed": config.seed,
                "time_max": config.env_time_max,
                "reward": RewardSpec(**config.reward_kwargs()),
                "observation": config.env_observation,
            },
            backend=pufferlib.PufferEnv,
        )
        self.env.reset()
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


class WorkerVectorEnv:
    """`num_workers` SharedEnvs under pufferlib's Serial or Multiprocessing backend."""

    def __init__(self, config: TrainConfig) -> None:
        self.backend = config.vector_backend
        self.workers = config.num_workers
        self.observation_size = observation_size(config.env_observation)
        if config.num_envs % self.workers:
            raise ValueError(f"num_envs ({config.num_envs}) must be a multiple of num_workers ({self.workers})")
        per_worker = config.num_envs // self.workers
        reward = RewardSpec(**config.reward_kwargs())
        extra: dict[str, Any] = {}
        if self.backend == "multiprocessing":
            extra = {"num_workers": self.workers, "overwork": True}
        self.vecenv = pufferlib.vector.make(
            [SharedEnv] * self.workers,
            env_args=[[]] * self.workers,
            env_kwargs=[
                {
                    "num_envs": per_worker,
                    "time_max": config.env_time_max,
                    "offset": k * per_worker,
                    "reward": reward,
                    "observation": config.env_observation,
                }
                for k in range(self.workers)
            ],
            backend=pufferlib.vector.Serial if self.backend == "serial" else pufferlib.vector.Multiprocessing,
            num_envs=self.workers,
            seed=config.seed,
            **extra,
        )
        n = config.num_envs
        self.action_mask = np.zeros((n, N_ACTIONS), dtype=bool)
        self.step_ticks = np.zeros(n, dtype=np.int64)
        self.invalid_actions = np.zeros(n, dtype=bool)
        self.episode_stats = np.zeros((n, len(EPISODE_STATS)))
        self.final_observations = np.zeros((n, self.observation_size), dtype=np.float32)
        obs, _ = self.vecenv.reset(config.seed)
        self._read_observations(obs)

    def _read_observations(self, obs: np.ndarray) -> None:
        self.observations = obs[:, : self.observation_size]
        np.greater(obs[:, self.observation_size :], 0.5, out=self.action_mask)

    def act_and_step(self, act: PartAct) -> tuple[np.ndarray, np.ndarray]:
        actions = act(self.observations, self.action_mask, 0)
        return actions, self.step(actions)

    def step(self, actions: np.ndarray) -> np.ndarray:
        obs, self.rewards, self.terminals, self.truncations, infos = self.vecenv.step(actions.astype(np.int32))
        self._read_observations(obs)
        finished = []
        for info in infos:
            lo = info["offset"]
            self.step_ticks[lo : lo + len(info["step_ticks"])] = info["step_ticks"]
            self.invalid_actions[lo : lo + len(info["invalid_actions"])] = info["invalid_actions"]
            ids = lo + info["finished"]
            self.episode_stats[ids] = info["episode_stats"]
            self.final_observations[ids] = info["final_observations"]
            finished.append(ids)
        return np.sort(np.concatenate(finished)) if finished else NO_ENVS

    def get_state(self) -> dict[str, Any]:
        """Each serial worker's env state; {} under multiprocessing (it lives in the workers)."""
        if self.backend == "serial":
            return {"parts": [env.get_state() for env in self.vecenv.envs]}
        return {}

    def set_state(self, state: dict[str, Any]) -> bool:
        if not state:
            return False
        for env, part in zip(self.vecenv.envs, state["parts"], strict=True):
            env.set_state(part)
        self._read_observations(self.vecenv.observations)
        return True

    def close(self) -> None:
        """Kill and reap multiprocessing workers (they inherit the trainer's SIGTERM handler,
        so pufferlib's terminate() would not stop them), then close."""
        if self.backend == "multiprocessing":
            for process in self.vecenv.processes:
                process.kill()
                process.join()
        self.vecenv.close()
