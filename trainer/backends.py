"""Trainer backends: what picks the actions of a batch and learns from the result.

The training loop (trainer.train) owns the vector env, the windows and the run directory; a
backend only sees each batch step: it chooses actions (`act`, per part of the batch, see
trainer.parts) and observes their outcome (`after_step`, a `StepView`). A new backend
implements `Backend` and registers its constructor in `BACKENDS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from trainer.config import TrainConfig
from trainer.env import RandomValidPolicy
from trainer.evaluate import ActFn, baseline_act
from trainer.parts import batch_parts


class StepView(Protocol):
    """What a backend sees of a batch step's outcome (all arrays have one row per env)."""

    @property
    def observations(self) -> np.ndarray:
        """The next observations (of the next episode where one ended)."""
        ...

    @property
    def rewards(self) -> np.ndarray: ...

    @property
    def terminals(self) -> np.ndarray: ...

    @property
    def truncations(self) -> np.ndarray: ...

    @property
    def step_ticks(self) -> np.ndarray:
        """The ticks each env's action cost."""
        ...

    @property
    def final_observations(self) -> np.ndarray:
        """At the rows of the envs whose episode ended: its last observation."""
        ...


class Backend(Protocol):
    """The per-step seam between the training loop and a policy."""

    def act(self, observations: np.ndarray, action_mask: np.ndarray, part: int = 0) -> np.ndarray:
        """The actions of part `part` of the batch (trainer.parts.batch_parts(num_envs,
        batch_threads)[part]; part 0 is the whole batch with one thread) for its current
        observations and masks. Parts may be called at once from different threads."""
        ...

    def after_step(self, step: StepView) -> None:
        """Observe the outcome of the actions just taken (a learner stores it, may update)."""
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

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.policy = RandomValidPolicy(num_envs=config.num_envs, seed=config.seed)
        self.parts = batch_parts(config.num_envs, config.batch_threads)

    def act(self, observations: np.ndarray, action_mask: np.ndarray, part: int = 0) -> np.ndarray:
        return self.policy.act(action_mask, self.parts[part])

    def after_step(self, step: StepView) -> None:
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


def ppo_backend(config: TrainConfig) -> Backend:
    """The `puffer_ppo` backend (trainer.ppo), imported on demand: it brings torch, which a
    random run does without."""
    from trainer.ppo import PPOBackend

    return PPOBackend(config)


BACKENDS: dict[str, Callable[[TrainConfig], Backend]] = {
    "random": RandomBackend,
    "puffer_ppo": ppo_backend,
}
