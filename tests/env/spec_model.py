"""Expected values for the rule tests: the shared part of the spec, written out in plain Python.

A rule test edits the env's state by hand, copies it into a `Model`, applies the action's
effect to the model itself (spelled out in the test, from spec 1.4/1.5), runs the model's
`global_dynamics` (spec 1.6 step 3-4), steps the env and checks both with `assert_step`. The
model's draws replay the env's own random stream (spec 1.9), so random effects are exact.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from trainer.env import rng as pcg
from trainer.env.batched import ProspectorEnv
from trainer.env.reward import RewardSpec
from trainer.env.rules import A_HOLD, PRICE_BASE, PRICE_MAX, PRICE_MIN

FIELD = 1  # a field node in every world; in the fixture's world it neighbours the station

# Bookkeeping the model does not track (checked by the episode-statistics tests instead)
_UNMODELLED = ("episode_return", "episode_length")
# What the first visit to a node draws from the node's own stream (world.ensure_asteroids)
ASTEROID_FIELDS = (
    "asteroid_rng",
    "asteroids_ready",
    "asteroid_count",
    "composition",
    "composition_estimate",
    "richness",
    "stability",
    "stability_estimate",
    "scan_noise",
    "scan_confidence",
    "depletion",
)


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


class Model:
    """A copy of env i's state, advanced by hand with the spec's formulas."""

    def __init__(self, env: ProspectorEnv, i: int = 0) -> None:
        for name, array in env.state._asdict().items():
            setattr(self, name, array[i].copy())
        self.rng = env.state.rng[i : i + 1].copy()

    # Draws, replaying the env's stream
    def u01(self) -> float:
        return float(pcg.uniform01(self.rng, 0))

    def uniform(self, lo: float, hi: float) -> float:
        return float(pcg.uniform(self.rng, 0, lo, hi))

    def normal(self, std: float) -> float:
        return float(pcg.normal(self.rng, 0, 0.0, std))

    def cargo_value(self) -> float:
        return float(self.cargo @ self.price)

    def hold(self) -> None:
        """HOLD (also the invalid-action branch): alert -3 and 2.5 extra heat dissipation,
        floored at 0 at once (README: alert and heat never dip below 0 inside a step)."""
        self.alert = max(0.0, self.alert - 3.0)
        self.heat = max(0.0, self.heat - 2.5)

    def pirate_chance(self, intensity: float, dt: int, escape: bool) -> float:
        logit = (
            -4.0
            + 3.0 * intensity
            + 2.2 * min(max(self.alert / 100.0, 0.0), 1.0)
            + 0.8 * math.log(1.0 + self.cargo_value() / 1000.0)
            - 2.8 * escape
        )
        return 1.0 - (1.0 - sigmoid(logit)) ** max(1, dt)

    def pirate_roll(self, intensity: float, dt: int, escape: bool) -> bool:
        """Spec 1.6 pirate roll; returns whether the pirates hit."""
        if self.u01() >= self.pirate_chance(intensity, dt, escape):
            return False
        self.pirate_encounters += 1
        loss = self.uniform(0.08, 0.2)
        if self.decoys > 0 and self.u01() < 0.6:
            self.decoys -= 1
            loss *= 0.3
        value = self.cargo_value()
        self.cargo = self.cargo * (1.0 - loss)
        self.value_lost_to_pirates += value - self.cargo_value()
        self.hull -= self.uniform(1.0, 4.0)
        self.alert += 8.0
        return True

    def update_market(self, dt: int) -> None:
        t = self.ticks + dt
        for c in range(6):
            cycle = self.price_amplitude[c] * math.sin(2.0 * math.pi * t / self.price_period[c] + self.price_phase[c])
            price = (
                PRICE_BASE[c]
                + cycle
                - 0.04 * self.inventory[c]
                - 0.05 * self.recent_sales[c]
                + self.normal(0.03 * PRICE_BASE[c] * math.sqrt(dt))
            )
            self.prev_price[c] = self.price[c]
            self.price[c] = min(max(price, PRICE_MIN[c]), PRICE_MAX[c])
            self.recent_sales[c] *= math.exp(-dt / 14.0)
            self.inventory[c] *= 0.998

    def clamp(self) -> None:
        self.fuel = min(max(self.fuel, 0.0), 1000.0)
        for name in ("hull", "heat", "tool", "alert"):
            setattr(self, name, min(max(getattr(self, name), 0.0), 100.0))
        self.cargo = np.maximum(self.cargo, 0.0)
        if self.cargo.sum() > 200.0:
            self.cargo = self.cargo * (200.0 / self.cargo.sum())

    def global_dynamics(self, dt: int, escape: bool | None = None) -> None:
        """Spec 1.6 steps 3-4. `escape` defaults to the buff left after this step's ticks."""
        if escape is None:
            escape = self.escape_until - (self.ticks + dt) > 0
        self.time_remaining = max(0, self.time_remaining - dt)
        self.heat = max(0.0, self.heat - 2.5 * dt)
        if self.heat > 100.0:
            self.hull -= 1.25 * (self.heat - 100.0)
            self.heat = 100.0
            self.overheat_ticks += dt
        if self.node != 0:
            h = self.hazard[self.node]
            if h > 0.0:
                jitter = self.uniform(0.8, 1.2)
                self.hull -= dt * h * 0.7 * jitter
                self.heat += dt * h * 0.5
                self.alert += dt * h * 0.8
            self.pirate_roll(self.pirate[self.node], dt, escape)
        self.update_market(dt)
        self.clamp()
        self.cargo_utilization_sum += dt * self.cargo.sum() / 200.0
        self.ticks += dt


def expected_reward(
    before: Model,
    after: Model,
    dt: int,
    action: int,
    invalid: bool = False,
    cashed_out: bool = False,
    reward: RewardSpec | None = None,
) -> float:
    """The reward of `reward`'s profile (default: original)."""
    if reward is not None and reward.profile == "profit":
        return expected_profit_reward(before, after, dt, cashed_out, reward)
    return expected_original_reward(before, after, dt, action, invalid, cashed_out)


def expected_profit_reward(before: Model, after: Model, dt: int, cashed_out: bool, reward: RewardSpec) -> float:
    """Spec 2.9: credits gained, potential-based shaping on cargo value, death loses the bank."""
    destroyed = after.hull <= 0.0
    stranded = after.fuel <= 0.0 and after.node != 0
    ended = destroyed or stranded or cashed_out or after.time_remaining <= 0
    discount = reward.gamma**dt if reward.per_tick else reward.gamma
    phi_before = reward.shaping * before.cargo_value() / 1000.0
    phi_after = 0.0 if ended else reward.shaping * after.cargo_value() / 1000.0
    r = (after.credits - before.credits) / 1000.0 + discount * phi_after - phi_before
    if destroyed or stranded:
        r -= after.credits / 1000.0 + 1.0 * destroyed + 1.0 * stranded
    return r


def expected_original_reward(
    before: Model, after: Model, dt: int, action: int, invalid: bool = False, cashed_out: bool = False
) -> float:
    """Spec 1.7, with spec 2.3: an invalid action costs its HOLD and -0.01, nothing else."""
    r = (after.credits - before.credits) / 1000.0
    r += 0.02 * max(0.0, after.cargo_value() - before.cargo_value()) / 1000.0
    r -= 0.1 * max(0.0, before.fuel - after.fuel) / 100.0
    r -= 0.001 * dt
    r -= 0.05 * max(0.0, before.tool - after.tool) / 10.0
    r -= 1.0 * max(0.0, before.hull - after.hull) / 10.0
    r -= 0.2 * (max(0.0, after.heat - 70.0) / 100.0) ** 2
    if 8 <= action <= 10 and not invalid:
        r -= 0.005
    if invalid:
        r -= 0.01
    r -= (after.value_lost_to_pirates - before.value_lost_to_pirates) / 1000.0
    destroyed = after.hull <= 0.0
    stranded = after.fuel <= 0.0 and after.node != 0
    r -= 100.0 * destroyed + 50.0 * stranded
    if (cashed_out or after.time_remaining <= 0) and not (destroyed or stranded):
        r += 0.002 * after.credits / 1000.0
    return r


def assert_state_matches(env: ProspectorEnv, expected: Model, i: int = 0, ignore: tuple[str, ...] = ()) -> None:
    """Every state field of env i equals the model's (floats to 1e-9)."""
    for name, array in env.state._asdict().items():
        if name in _UNMODELLED or name in ignore:
            continue
        want = expected.rng[0] if name == "rng" else getattr(expected, name)
        if np.issubdtype(array.dtype, np.floating):
            np.testing.assert_allclose(array[i], want, rtol=1e-9, atol=1e-9, err_msg=name)
        else:
            np.testing.assert_array_equal(array[i], want, err_msg=name)


def step_one(env: ProspectorEnv, action: int, i: int = 0) -> float:
    """Step the batch with `action` for env i (HOLD for the others); return env i's reward."""
    actions = np.full(env.num_envs, A_HOLD, dtype=np.int64)
    actions[i] = action
    env.step(actions)
    return float(env.rewards[i])


def assert_step(
    env: ProspectorEnv,
    action: int,
    before: Model,
    expected: Model,
    dt: int,
    *,
    invalid: bool = False,
    cashed_out: bool = False,
    ignore: tuple[str, ...] = (),
) -> None:
    """Step env 0 with `action`; its state, reward, ticks and invalid flag are as expected."""
    reward = step_one(env, action)
    assert env.invalid_actions[0] == invalid
    assert env.step_ticks[0] == dt
    assert_state_matches(env, expected, ignore=ignore)
    want = expected_reward(before, expected, dt, action, invalid=invalid, cashed_out=cashed_out, reward=env.reward)
    assert reward == pytest.approx(want, rel=1e-6, abs=1e-6)


def rig_stream(env: ProspectorEnv, wanted) -> None:
    """Give env 0 a random stream whose next draws satisfy `wanted(model)` (the model's draws
    read that stream), so that a test chooses which branch a random roll takes."""
    probe = Model(env)
    for seed in range(1, 100_000):
        pcg.pcg32_seed(probe.rng, 0, seed)
        start = probe.rng[0]
        if wanted(probe):
            env.state.rng[0] = start
            return
    raise AssertionError("no stream satisfies the wanted draws")


def place_ship(env: ProspectorEnv, node: int, hazard: float = 0.0, pirate: float = 0.0) -> None:
    """Put the ship at `node` (hazard and pirate values set) with no asteroids there and no
    selection; the caller adds asteroids with `put_asteroid` and calls `env.refresh_views()`."""
    s = env.state
    s.node[0] = node
    s.selected[0] = -1
    s.hazard[0, node] = hazard
    s.pirate[0, node] = pirate
    s.asteroids_ready[0, node] = node != 0
    s.asteroid_count[0, node] = 0


DEFAULT_COMPOSITION = (0.4, 0.3, 0.1, 0.1, 0.05, 0.05)


def put_asteroid(
    env: ProspectorEnv,
    slot: int,
    composition=DEFAULT_COMPOSITION,
    richness: float = 2.0,
    stability: float = 0.6,
    noise: float = 0.1,
    estimate=(1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
    stability_estimate: float = 0.5,
    confidence: float = 0.1,
    depletion: float = 0.0,
) -> None:
    """An asteroid in `slot` at the ship's node (slots below it must be filled too)."""
    s = env.state
    node = s.node[0]
    s.asteroid_count[0, node] = max(s.asteroid_count[0, node], slot + 1)
    s.composition[0, node, slot] = composition
    s.richness[0, node, slot] = richness
    s.stability[0, node, slot] = stability
    s.scan_noise[0, node, slot] = noise
    s.composition_estimate[0, node, slot] = np.asarray(estimate) / np.sum(estimate)
    s.stability_estimate[0, node, slot] = stability_estimate
    s.scan_confidence[0, node, slot] = confidence
    s.depletion[0, node, slot] = depletion
