"""Reward profiles (spec 2.9): which reward the env's step kernel pays.

- `original`: spec 1.7's sum of terms, kept for fidelity. Under it cashing out on the first
  step (-0.001) beats every mining strategy: a careful miner earning 8,762 credits returns
  -42.8, mostly from -0.1 per hull point. A return-maximising learner learns to quit.
- `profit` (the default): r = dC/1000 + (g * Phi(s') - Phi(s)) - [destroyed or stranded] *
  (C'/1000 + 1 per ending), with C the credits, Phi(s) = shaping * (market value of the
  cargo) / 1000 and Phi = 0 on the step that ends the episode. The shaping is potential-based
  (Ng, Harada & Russell 1999), so it does not change the optimal policy when g is the
  learner's discount (g = gamma per step, or gamma**dt with `per_tick`): the discounted
  return equals that of the unshaped profit reward. With g = 1 the return of an episode the
  ship survives is exactly its net profit in thousands of credits; with g < 1 it falls short by
  the sum of (1 - g) * Phi(s') over the steps (cargo carried costs a little each step). A ship
  that is lost loses its banked credits too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from trainer.env.rules import PROFIT_DEATH_PENALTY, REWARD_PROFILES

RewardProfile = Literal["original", "profit"]


@dataclass(frozen=True)
class RewardSpec:
    """The reward an env pays: the profile and, for `profit`, its shaping discount and weight and
    the cost of each ending by death beyond the banked credits (the spec's 1)."""

    profile: RewardProfile = "profit"
    gamma: float = 0.999
    per_tick: bool = False
    shaping: float = 1.0
    death_penalty: float = PROFIT_DEATH_PENALTY

    def __post_init__(self) -> None:
        if self.profile not in REWARD_PROFILES:
            raise ValueError(f"reward profile must be one of {REWARD_PROFILES}, got {self.profile!r}")
        if not (isinstance(self.gamma, (int, float)) and 0.0 < self.gamma <= 1.0):
            raise ValueError(f"reward gamma must be in (0, 1], got {self.gamma!r}")
        for name in ("shaping", "death_penalty"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"reward {name} must be a finite number >= 0, got {value!r}")

    def kernel_args(self) -> tuple[int, float, bool, float, float]:
        """(profile index, gamma, per_tick, shaping, death_penalty), the tuple `step_batch` takes."""
        return (
            REWARD_PROFILES.index(self.profile),
            float(self.gamma),
            bool(self.per_tick),
            float(self.shaping),
            float(self.death_penalty),
        )
