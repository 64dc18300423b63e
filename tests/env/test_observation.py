"""The observation (spec 1.3, with price / price_max per spec 2.4)."""

import math

import numpy as np
import pytest

from tests.env.spec_model import FIELD, place_ship, put_asteroid, step_one
from trainer.env import ProspectorEnv, ProspectorPolicy, RandomValidPolicy
from trainer.env.rules import A_TRAVEL, HAZARD

DELTAS = slice(250, 256)


def test_observations_are_float32_rows_of_260_within_bounds_under_random_play():
    env = ProspectorEnv(num_envs=64, seed=3)
    obs, _ = env.reset()
    policy = RandomValidPolicy(64, seed=3)
    assert obs.shape == (64, 260) and obs.dtype == np.float32
    for _ in range(300):
        obs, _, _, _, infos = env.step(policy.act(env.action_mask))
        assert (np.abs(obs) <= 1.0).all()  # also false for NaN
        if infos:
            assert (np.abs(env.final_observations[infos[0]["finished"]]) <= 1.0).all()
    assert obs.shape == (64, 260) and obs.dtype == np.float32


@pytest.mark.parametrize("observation", ["spec", "scouted"])
@pytest.mark.parametrize("player", ["random", "prospector"])
def test_a_step_leaves_every_row_as_a_full_rewrite_would(observation, player):
    """A step rewrites only the node blocks its action changed; the rows must still equal
    rows written from scratch (through scans, mining, selection, travel and resets)."""
    env = ProspectorEnv(num_envs=16, seed=4, observation=observation, mask_in_observation=True)
    env.reset()
    random_policy = RandomValidPolicy(16, seed=4)
    prospector = ProspectorPolicy(16)
    for _ in range(400):
        env.step(random_policy.act(env.action_mask) if player == "random" else prospector.act(env))
        stepped = env.observations.copy(), env.action_mask.copy()
        env.refresh_views()
        np.testing.assert_array_equal(stepped[0], env.observations)
        np.testing.assert_array_equal(stepped[1], env.action_mask)
    s = env.state
    assert s.scan_count.sum() > 0
    assert s.episode_index.sum() > 16 if player == "random" else s.mining_ticks.sum() > 100


def test_ship_block(env):
    s = env.state
    place_ship(env, FIELD)
    s.fuel[0], s.hull[0], s.heat[0], s.tool[0], s.alert[0] = 500.0, 25.0, 80.0, 40.0, 50.0
    s.cargo[0] = (20, 0, 10, 0, 0, 10)
    s.time_remaining[0] = env.time_max // 4
    s.credits[0] = 9999.0
    s.kits[0], s.stabilizers[0], s.decoys[0] = 6, 3, 12
    s.node_type[0, FIELD] = HAZARD
    env.refresh_views()
    obs = env.observations[0]
    ship = [0.5, 0.25, 0.8, 0.4, 0.2, 0.5, 0.25, math.log(1e4) / math.log1p(1e7)]
    np.testing.assert_allclose(obs[:8], ship, rtol=1e-6)
    np.testing.assert_allclose(obs[8:14], [0.1, 0, 0.05, 0, 0, 0.05], rtol=1e-6)
    np.testing.assert_allclose(obs[14:17], [0.5, 0.25, 1.0])
    assert obs[17] == 0.0 and obs[18] == 0.0  # at station, selection valid
    np.testing.assert_array_equal(obs[19:22], [0, 0, 1])  # node type one-hot
    assert obs[22] == pytest.approx(FIELD / 31)
    assert obs[23] == pytest.approx(s.hops[0, FIELD] / 31) and s.hops[0, FIELD] == 1


def test_ship_block_at_the_station(env):
    obs = env.observations[0]
    assert obs[17] == 1.0
    np.testing.assert_array_equal(obs[19:24], [1, 0, 0, 0, 0])  # station one-hot, node 0, 0 hops


def test_neighbour_block(env):
    s = env.state
    v = s.neighbor[0, 0, 1]
    s.node_type[0, v] = HAZARD
    s.edge_time[0, 0, 1], s.edge_fuel[0, 0, 1], s.threat_estimate[0, 0, 1] = 4, 80.0, 0.35
    assert (s.neighbor[0, 0, 4:] < 0).all()
    env.refresh_views()
    obs = env.observations[0]
    np.testing.assert_allclose(obs[24 + 7 : 24 + 14], [1, 0, 0, 1, 0.5, 0.5, 0.35], rtol=1e-6)
    np.testing.assert_array_equal(obs[24 + 7 * 4 : 68], 0.0)  # empty slots 4 and 5


def test_asteroid_block(env):
    s = env.state
    place_ship(env, FIELD)
    put_asteroid(env, 0)
    put_asteroid(env, 1, stability_estimate=0.7, depletion=0.25, confidence=0.6)
    s.composition_estimate[0, FIELD, 1] = (2, 1, 1, 0, 0, 0)  # shown renormalised
    s.selected[0] = 1
    env.refresh_views()
    obs = env.observations[0]
    np.testing.assert_allclose(obs[68 + 11 : 68 + 22], [1, 0.5, 0.25, 0.25, 0, 0, 0, 0.7, 0.25, 0.6, 1], rtol=1e-6)
    assert obs[68] == 1.0 and obs[68 + 10] == 0.0  # slot 0: valid, not selected
    assert obs[18] == 1.0
    np.testing.assert_array_equal(obs[68 + 22 : 244], 0.0)


def test_market_block(env):
    s = env.state
    s.price[0] = (90, 100, 120, 160, 210, 150)  # half of each price_max, above base for 3 of them
    s.prev_price[0] = s.price[0] - (10, -20, 0, 150, -300, 5)
    s.inventory[0] = (50, 999, 100, 250, 600, 7)
    env.refresh_views()
    obs = env.observations[0]
    np.testing.assert_allclose(obs[244:250], 0.5)
    np.testing.assert_allclose(obs[DELTAS], [0.1, -0.2, 0, 1, -1, 0.05], rtol=1e-6)
    np.testing.assert_allclose(obs[256:260], [0.1, 0.2, 0.5, 1.0])  # iron, water ice, pge, rare isotopes


def test_time_fraction_is_never_negative_even_when_travel_overruns_the_budget(env):
    """Spec 1.3: the price deltas are the only negative values (and 1.6 clamps the state)."""
    env.state.time_remaining[0] = 2
    env.state.edge_time[0, 0, 0] = 5
    env.refresh_views()
    step_one(env, A_TRAVEL)
    assert env.truncations[0]
    final = np.delete(env.final_observations[0], np.r_[DELTAS])
    assert final.min() >= 0.0
    assert env.final_observations[0, 6] == 0.0


def test_the_scouted_observation_adds_what_the_player_has_seen_of_each_neighbour():
    env = ProspectorEnv(num_envs=1, seed=7, autoreset=False, observation="scouted")
    env.reset()
    assert env.observations.shape == (1, 284)
    s = env.state
    node = 1
    place_ship(env, node)
    neighbours = s.neighbor[0, node]
    slots = [k for k in range(6) if neighbours[k] >= 0]
    visited_slot, unseen_slot = slots[0], slots[1]
    seen = neighbours[visited_slot]
    s.asteroids_ready[0, seen] = True
    s.asteroid_count[0, seen] = 4
    s.depletion[0, seen, :4] = (1.0, 0.5, 0.0, 0.2)
    s.stability_estimate[0, seen, :4] = 0.5
    s.composition_estimate[0, seen, :4] = np.eye(6)[:4]  # asteroid a is pure commodity a
    s.asteroids_ready[0, neighbours[unseen_slot]] = False
    env.refresh_views()
    scout = env.observations[0, 260:].reshape(6, 4)
    prices = s.price[0]
    values = [(1 - d) * 0.5 * prices[a] for a, d in enumerate((1.0, 0.5, 0.0, 0.2))]
    hops = s.hops[0, seen] / 31
    np.testing.assert_allclose(scout[visited_slot], [1.0, max(values[1:]) / 420.0, 0.75, hops], rtol=1e-6)
    np.testing.assert_allclose(scout[unseen_slot], [0.0, 0.0, 0.0, s.hops[0, neighbours[unseen_slot]] / 31], rtol=1e-6)
    for k in range(6):
        if neighbours[k] < 0:
            assert (scout[k] == 0).all()
    np.testing.assert_array_equal(env.observations[0, :260], _spec_observation(env)[0])


def _spec_observation(scouted: ProspectorEnv) -> np.ndarray:
    """The 260 spec values of the same state, from an env with the spec observation."""
    spec = ProspectorEnv(num_envs=1, seed=7, autoreset=False)
    spec.reset()
    spec.set_state(scouted.get_state() | {"observations": spec.observations, "action_mask": spec.action_mask})
    spec.refresh_views()
    return spec.observations
