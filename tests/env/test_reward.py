"""Reward profiles (spec 2.9): hand-computed profit rewards, and the shaping telescoping away
over whole episodes, so that the return ranks policies by the profit they bank."""

import numpy as np
import pytest

from tests.env.spec_model import place_ship
from trainer.env import EPISODE_STATS, ProspectorEnv, ProspectorPolicy, RewardSpec
from trainer.env.rules import A_CASH_OUT, A_HOLD, A_SELL, IRON
from trainer.evaluate import evaluation_seeds

FIELD = 1


def profit_env(**reward) -> ProspectorEnv:
    env = ProspectorEnv(num_envs=1, seed=7, autoreset=False, reward=RewardSpec(**reward))
    env.reset()
    return env


def test_selling_pays_the_credits_and_gives_back_the_cargo_potential():
    env = profit_env(gamma=0.9, shaping=2.0)
    s = env.state
    s.cargo[0, :] = 0.0
    s.cargo[0, IRON] = 10.0
    price = float(s.price[0, IRON])
    env.refresh_views()
    env.step(np.array([A_SELL + 3 * IRON + 2]))  # sell all of it
    gained = float(s.credits[0])
    assert gained > 0
    # no cargo left: Phi' = 0; Phi = 2 * 10 * price / 1000
    assert env.rewards[0] == pytest.approx(gained / 1000 - 2.0 * 10 * price / 1000, rel=1e-6)


def test_a_destroyed_ship_loses_its_banked_credits_and_one_more():
    env = profit_env()
    place_ship(env, FIELD, hazard=1.0)  # takes at least 0.56 hull a tick
    s = env.state
    s.credits[0], s.hull[0] = 2500.0, 0.5
    s.cargo[0, :] = 0.0
    env.refresh_views()
    env.step(np.array([A_HOLD]))
    assert s.hull[0] <= 0 and env.terminals[0]
    assert env.rewards[0] == pytest.approx(-2.5 - 1.0)


@pytest.mark.parametrize("death_penalty", [None, 0.0, 15.0])
def test_destroyed_and_stranded_at_once_costs_the_death_penalty_twice(death_penalty):
    env = profit_env() if death_penalty is None else profit_env(death_penalty=death_penalty)
    place_ship(env, FIELD, hazard=1.0)
    s = env.state
    s.credits[0], s.hull[0], s.fuel[0] = 800.0, 0.5, 0.0
    s.cargo[0, :] = 0.0
    env.refresh_views()
    env.step(np.array([A_HOLD]))
    penalty = 1.0 if death_penalty is None else death_penalty  # the spec's 1 unless set
    assert env.rewards[0] == pytest.approx(-0.8 - 2.0 * penalty)


@pytest.mark.parametrize("field", ["shaping", "death_penalty"])
@pytest.mark.parametrize("bad", [-1.0, float("nan"), "1"])
def test_the_shaping_weight_and_death_penalty_must_be_finite_numbers_at_least_zero(field, bad):
    with pytest.raises(ValueError, match=f"reward {field} must be a finite number >= 0"):
        RewardSpec(**{field: bad})


def test_cash_out_drops_the_potential_of_unsold_cargo():
    env = profit_env(gamma=0.99, shaping=1.0)
    place_ship(env, FIELD)
    s = env.state
    s.cargo[0, :] = 0.0
    s.cargo[0, IRON] = 20.0
    value = 20.0 * float(s.price[0, IRON])
    env.refresh_views()
    env.step(np.array([A_CASH_OUT]))
    assert env.terminals[0]
    assert env.rewards[0] == pytest.approx(-value / 1000, rel=1e-6)


def play(reward: RewardSpec, episodes: int = 16) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The prospector's episodes under `reward`: (rewards (T, n), step ticks (T, n), stats)."""
    env = ProspectorEnv(num_envs=episodes, autoreset=False, reward=reward)
    env.start_episodes(evaluation_seeds(3, episodes))
    policy = ProspectorPolicy(episodes)
    rewards, ticks = [], []
    while not env.state.done.all():
        env.step(policy.act(env))
        rewards.append(env.rewards.copy())
        ticks.append(env.step_ticks.copy())
    return np.array(rewards), np.array(ticks), env.episode_stats.copy()


def test_undiscounted_shaping_telescopes_to_the_banked_profit():
    _, _, stats = play(RewardSpec(gamma=1.0, shaping=1.0))
    returns = stats[:, EPISODE_STATS.index("return")]  # summed in float64 by the env
    net_profit = stats[:, EPISODE_STATS.index("net_profit")]
    survived = stats[:, EPISODE_STATS.index("survival")] == 1.0
    assert survived.any() and (net_profit > 1000).any()
    np.testing.assert_allclose(returns[survived], net_profit[survived] / 1000, rtol=1e-9)


@pytest.mark.parametrize("per_tick", [False, True])
def test_discounted_return_is_the_same_with_and_without_shaping(per_tick):
    gamma = 0.995
    shaped, ticks, _ = play(RewardSpec(gamma=gamma, per_tick=per_tick, shaping=1.0))
    plain, _, _ = play(RewardSpec(gamma=gamma, per_tick=per_tick, shaping=0.0))
    assert not np.allclose(shaped, plain)
    step_discount = gamma**ticks if per_tick else np.full(ticks.shape, gamma)
    discount = np.vstack([np.ones((1, ticks.shape[1])), np.cumprod(step_discount, axis=0)[:-1]])
    np.testing.assert_allclose((discount * shaped).sum(0), (discount * plain).sum(0), rtol=1e-5, atol=1e-4)
