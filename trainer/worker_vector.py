"""The vector env of the `serial` and `multiprocessing` backends: `num_workers` sub-envs under
`pufferlib.vector` (see trainer.vector). Only these backends import pufferlib."""

from __future__ import annotations

from typing import Any

import numpy as np
import pufferlib
import pufferlib.vector

from trainer.config import TrainConfig
from trainer.env import EPISODE_STATS, N_ACTIONS, ProspectorEnv, RewardSpec
from trainer.env.batched import observation_size
from trainer.vector import NO_ENVS, PartAct


class SharedEnv(ProspectorEnv, pufferlib.PufferEnv):
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

    def _attach_buffers(self, buf: dict[str, np.ndarray] | None) -> None:
        pufferlib.PufferEnv.__init__(self, buf)  # pufferlib's checks, shared buffers and joint spaces

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
