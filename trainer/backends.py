"""Trainer backends: what picks the actions of a batch and learns from the result.

The training loop (trainer.train) owns the vector env, the windows and the run directory; a
backend only sees each batch step. A new backend implements `Backend` and registers a factory
in `BACKENDS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from trainer.config import TrainConfig
from trainer.env import RandomValidPolicy
from trainer.evaluate import ActFn, baseline_act
from trainer.ppo import PPOBackend
from trainer.vector import VectorEnv


class Backend(Protocol):
    """The per-step seam between the training loop and a policy."""

    def act(self, observations: np.ndarray, action_mask: np.ndarray) -> np.ndarray:
        """The int32 actions (num_envs,) for the current observations."""
        ...

    def after_step(self, env: VectorEnv) -> None:
        """Observe the outcome of the actions just taken: `env`'s rewards, terminals,
        truncations, final observations and next observations (a learner stores them, may update)."""
        ...

    def window_fields(self) -> dict[str, Any]:
        """Extra fields for the window record being closed (e.g. losses since the last window)."""
        ...

    def evaluate(self) -> dict[str, Any]:
        """Extra fields for a window record that comes with a checkpoint (held-out evaluation)."""
        ...

    def replay_act(self) -> Callable[[int], ActFn]:
        """The act-function factory (as trainer.evaluate takes) of the policy replays record."""
        ...

    def run_info(self) -> dict[str, Any]:
        """What run_metadata.json should record about the backend (device, policy...)."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """The backend's part of a checkpoint: tensors, numpy arrays and plain values."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what state_dict() returned."""
        ...


class RandomBackend:
    """Uniformly random valid actions: the smoke test and the baseline curve."""

    def __init__(self, config: TrainConfig, env: VectorEnv) -> None:
        self.config = config
        self.policy = RandomValidPolicy(num_envs=config.num_envs, seed=config.seed)

    def act(self, observations: np.ndarray, action_mask: np.ndarray) -> np.ndarray:
        return self.policy.act(action_mask)

    def after_step(self, env: VectorEnv) -> None:
        pass

    def window_fields(self) -> dict[str, Any]:
        return {}

    def evaluate(self) -> dict[str, Any]:
        return {}

    def replay_act(self) -> Callable[[int], ActFn]:
        return baseline_act("random", self.config.eval_seed)

    def run_info(self) -> dict[str, Any]:
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {"policy_rng": self.policy.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.policy.set_state(state["policy_rng"])


BACKENDS: dict[str, Callable[[TrainConfig, VectorEnv], Backend]] = {
    "random": RandomBackend,
    "puffer_ppo": PPOBackend,
}
