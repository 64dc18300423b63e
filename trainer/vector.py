"""The batched env as the training loop sees it, whichever `pufferlib.vector` backend runs it.

- `native` (default): `pufferlib.vector.make(ProspectorEnv, backend=pufferlib.PufferEnv)`, one
  in-process ProspectorEnv of num_envs games; the loop reads its arrays directly.
- `serial` / `multiprocessing`: `ppo_num_workers` sub-envs of num_envs / workers games each,
  stepped in turn in this process or in shared-memory worker processes. pufferlib shares only
  observations, rewards, terminals and truncations, so each sub-env (`SharedEnv`) carries its
  action mask in the observation (the 69 columns after the 260 game values) and sends its
  per-step extras (ticks, invalid actions, finished episodes' statistics and final
  observations) as its step info.

On 2 busy cores, multiprocessing workers spin while waiting and run far slower than native.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pufferlib
import pufferlib.vector

from trainer.config import TrainConfig
from trainer.env import EPISODE_STATS, N_ACTIONS, ProspectorEnv, RewardSpec
from trainer.env.batched import observation_size

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


class VectorEnv:
    """The loop's view of the batch: current `observations` (N, 260) and `action_mask`
    (N, 69); after `step`: `rewards`, `terminals`, `truncations`, `step_ticks`,
    `invalid_actions`, and at the rows of the finished envs `episode_stats` and
    `final_observations` (the last observation of the episode, for bootstrapping)."""

    def __init__(self, config: TrainConfig) -> None:
        self.backend = config.ppo_vector_backend
        self.num_envs = config.num_envs
        self.workers = 1 if self.backend == "native" else config.ppo_num_workers
        reward = RewardSpec(**config.reward_kwargs())
        self.observation_size = observation_size(config.env_observation)
        if self.backend == "native":
            self.vecenv = pufferlib.vector.make(
                ProspectorEnv,
                env_kwargs={
                    "num_envs": config.num_envs,
                    "seed": config.seed,
                    "time_max": config.env_time_max,
                    "reward": reward,
                    "observation": config.env_observation,
                },
                backend=pufferlib.PufferEnv,
            )
            self.vecenv.reset()
            self._bind(self.vecenv)
            return
        if config.num_envs % self.workers:
            raise ValueError(f"num_envs ({config.num_envs}) must be a multiple of ppo_num_workers ({self.workers})")
        per_worker = config.num_envs // self.workers
        extra: dict[str, Any] = {}
        if self.backend == "multiprocessing":
            extra = {"num_workers": self.workers, "overwork": True}
        self.vecenv = pufferlib.vector.make(
            [SharedEnv] * self.workers,
            env_args=[[]] * self.workers,
            env_kwargs=[
                {"num_envs": per_worker, "time_max": config.env_time_max, "offset": k * per_worker,
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

    def _bind(self, env: ProspectorEnv) -> None:
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
            setattr(self, name, getattr(env, name))

    def _read_observations(self, obs: np.ndarray) -> None:
        self.observations = obs[:, : self.observation_size]
        np.greater(obs[:, self.observation_size :], 0.5, out=self.action_mask)

    def step(self, actions: np.ndarray) -> np.ndarray:
        """Step every env; return the indices of the envs whose episode ended (they have
        already been reset)."""
        if self.backend == "native":
            _, _, _, _, infos = self.vecenv.step(actions)
            return infos[0]["finished"] if infos else NO_ENVS
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
        """The env state for a checkpoint; empty under multiprocessing (it lives in the workers)."""
        if self.backend == "native":
            return self.vecenv.get_state()
        if self.backend == "serial":
            return {"parts": [env.get_state() for env in self.vecenv.envs]}
        return {}

    def set_state(self, state: dict[str, Any]) -> bool:
        """Restore `get_state()`; False when there was no env state to restore."""
        if not state:
            return False
        if self.backend == "native":
            self.vecenv.set_state(state)
            return True
        for env, part in zip(self.vecenv.envs, state["parts"], strict=True):
            env.set_state(part)
        self._read_observations(self.vecenv.observations)
        return True

    def close(self) -> None:
        """Release the env; worker processes are killed and reaped (they inherit the trainer's
        SIGTERM handler, so pufferlib's terminate() would not stop them)."""
        if self.backend == "multiprocessing":
            for process in self.vecenv.processes:
                process.kill()
                process.join()
        self.vecenv.close()
