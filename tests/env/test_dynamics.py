"""The parts of a step that are not one action's effect: the invalid-action branch, pirates,
overheating, the market, the episode's end and its statistics (spec 1.6-1.7, 2.3, 2.5, 3)."""

import math

import numpy as np
import pytest

from tests.env.spec_model import FIELD, Model, assert_step, place_ship, put_asteroid, rig_stream, step_one
from trainer.env import EPISODE_STATS, ProspectorEnv
from trainer.env.rules import (
    A_BUY_DECOY,
    A_BUY_FUEL,
    A_CASH_OUT,
    A_DEEP_SCAN,
    A_DOCK,
    A_FOCUSED_SCAN,
    A_HOLD,
    A_HULL_PATCH,
    A_MINE,
    A_OVERHAUL,
    A_REFINE,
    A_SELECT,
    A_SELL,
    A_STABILIZE,
    A_TOOL_MAINT,
    A_TRAVEL,
    A_WIDE_SCAN,
    PGE,
)


def stats(env: ProspectorEnv, i: int = 0) -> dict[str, float]:
    return dict(zip(EPISODE_STATS, env.episode_stats[i]))


# The invalid-action branch

INVALID_AT_A_BARE_FIELD = {
    "travel through an empty slot": A_TRAVEL + 5,
    "select an empty slot": A_SELECT + 15,
    "select a depleted asteroid": A_SELECT + 0,
    "mine without a selection": A_MINE + 1,
    "stabilize without a selection": A_STABILIZE,
    "tool maintenance without kits": A_TOOL_MAINT,
    "hull patch without kits": A_HULL_PATCH,
    "dock off-station": A_DOCK,
    "sell off-station": A_SELL + 9,
    "buy fuel off-station": A_BUY_FUEL + 2,
    "buy a decoy off-station": A_BUY_DECOY,
    "overhaul off-station": A_OVERHAUL,
}


def bare_field(env) -> None:
    """A field node with one depleted asteroid; no kits or stabilizers; credits to spend."""
    s = env.state
    place_ship(env, FIELD, hazard=0.1, pirate=0.1)
    put_asteroid(env, 0, depletion=1.0)
    s.kits[0], s.stabilizers[0], s.credits[0] = 0, 0, 1000.0
    s.fuel[0], s.heat[0], s.alert[0] = 500.0, 40.0, 20.0
    s.cargo[0] = (5, 5, 5, 5, 5, 5)
    env.refresh_views()


def assert_invalid_hold(env, action: int) -> None:
    """Stepping `action` takes the invalid branch: HOLD, dt 1, -0.01, nothing else (spec 2.3)."""
    assert not (0 <= action < 69 and env.action_mask[0, action])  # out of range, or masked
    before, exp = Model(env), Model(env)
    exp.hold()
    exp.invalid_count += 1
    exp.global_dynamics(1)
    assert_step(env, action, before, exp, dt=1, invalid=True)


@pytest.mark.parametrize("action", INVALID_AT_A_BARE_FIELD.values(), ids=INVALID_AT_A_BARE_FIELD.keys())
def test_invalid_action_is_a_one_tick_hold_costing_001(env, action):
    bare_field(env)
    assert env.state.neighbor[0, FIELD, 5] < 0
    assert_invalid_hold(env, action)


@pytest.mark.parametrize("action", [A_FOCUSED_SCAN, A_DEEP_SCAN], ids=["focused", "deep"])
def test_scan_without_a_selection_costs_only_the_invalid_hold(env, action):
    """Spec 2.3: no fuel, no alert and no scan penalty. (Spec 1.7 gives r_scan to actions 8-10
    'even if invalid' in the original; 2.3 says an invalid action charges nothing but its HOLD.)"""
    bare_field(env)
    assert_invalid_hold(env, action)


@pytest.mark.parametrize("action", [-1, 69, 2**40])
def test_out_of_range_action_in_a_batch_is_one_invalid_hold(action):
    """Spec 2.5: HOLD once (not twice), counted as invalid; the other env is unaffected."""
    env = ProspectorEnv(num_envs=2, seed=3, autoreset=False)
    env.reset()
    env.state.alert[:], env.state.heat[:] = 20.0, 30.0
    env.refresh_views()
    assert_invalid_hold(env, action)
    assert not env.invalid_actions[1]
    assert env.state.invalid_count.tolist() == [1, 0]


# Pirates and overheating


@pytest.mark.parametrize(
    "decoys, decoy_works", [(0, None), (1, True), (1, False)], ids=["no decoy", "decoy", "decoy fails"]
)
def test_pirate_hit_takes_cargo_and_hull_and_a_working_decoy_cuts_the_loss(env, decoys, decoy_works):
    s = env.state
    place_ship(env, FIELD, pirate=0.8)
    s.decoys[0], s.alert[0], s.cargo[0, PGE] = decoys, 30.0, 100.0
    env.refresh_views()
    probe = Model(env)
    probe.hold()
    p_hit = probe.pirate_chance(0.8, 1, escape=False)

    def hit(m: Model) -> bool:
        if m.u01() >= p_hit:
            return False
        m.uniform(0.08, 0.2)
        return decoy_works is None or (m.u01() < 0.6) == decoy_works

    rig_stream(env, hit)
    replay = Model(env)  # the roll, the loss, the decoy roll (only with a decoy), the hull damage
    replay.u01()
    loss = replay.uniform(0.08, 0.2) * (0.3 if decoy_works else 1.0)
    if decoys:
        replay.u01()
    hull_damage = replay.uniform(1.0, 4.0)
    before, exp = Model(env), Model(env)
    exp.hold()
    exp.global_dynamics(1)
    assert_step(env, A_HOLD, before, exp, dt=1)
    assert s.pirate_encounters[0] == 1
    assert s.decoys[0] == decoys - bool(decoy_works)
    assert s.cargo[0, PGE] == pytest.approx(100.0 * (1 - loss))
    assert s.value_lost_to_pirates[0] == pytest.approx(100.0 * loss * before.price[PGE])
    assert s.hull[0] == pytest.approx(100.0 - hull_damage)
    assert s.alert[0] == pytest.approx(35.0)  # 30 - 3 + 8


def test_heat_over_100_costs_125_hull_per_unit_and_counts_overheat_ticks(env):
    env.state.heat[0] = 100.0
    env.refresh_views()
    before, exp = Model(env), Model(env)
    exp.fuel, exp.heat, exp.alert = 996.0, 106.0, 3.0  # refine
    exp.global_dynamics(2)
    assert_step(env, A_REFINE, before, exp, dt=2)
    s = env.state
    assert (s.hull[0], s.heat[0], s.overheat_ticks[0]) == (pytest.approx(98.75), 100.0, 2)  # 101 after 2 ticks


# The market


def test_market_follows_cycle_pressure_and_noise_and_decays_sales_and_stock(env):
    s = env.state
    s.ticks[0] = 100
    s.recent_sales[0] = (30, 0, 10, 0, 0, 5)
    s.cargo[0] = (10, 0, 0, 10, 0, 0)
    env.refresh_views()
    before, exp = Model(env), Model(env)
    noise_iron = Model(env).normal(0.03 * 45 * math.sqrt(3))
    exp.fuel, exp.alert, exp.scan_count = 995.0, 4.0, 1  # a wide scan at the station: 3 ticks
    exp.global_dynamics(3)
    assert_step(env, A_WIDE_SCAN, before, exp, dt=3)
    cycle = before.price_amplitude[0] * math.sin(2 * math.pi * 103 / before.price_period[0] + before.price_phase[0])
    iron = 45 + cycle - 0.04 * before.inventory[0] - 0.05 * 30 + noise_iron
    assert s.price[0, 0] == pytest.approx(min(max(iron, 12.0), 180.0))
    np.testing.assert_array_equal(s.prev_price[0], before.price)
    np.testing.assert_allclose(s.recent_sales[0], before.recent_sales * math.exp(-3 / 14))
    np.testing.assert_allclose(s.inventory[0], before.inventory * 0.998)  # once per step, whatever dt


# The end of an episode


def test_cash_out_terminates_after_the_steps_global_dynamics_with_the_credit_bonus(env):
    env.state.credits[0] = 5000.0
    env.refresh_views()
    before, exp = Model(env), Model(env)
    exp.global_dynamics(1)
    exp.done = True
    assert_step(env, A_CASH_OUT, before, exp, dt=1, cashed_out=True)  # bonus 0.002 * 5000 / 1000
    assert env.terminals[0] and not env.truncations[0]
    st = stats(env)
    assert (st["cash_out"], st["survival"], st["destroyed"], st["stranded"]) == (1, 1, 0, 0)
    assert st["credits"] == st["net_profit"] == 5000.0
    assert (st["length"], st["ticks"], st["return"]) == (1, 1, pytest.approx(float(env.rewards[0])))


def test_hull_at_zero_destroys_the_ship_without_the_credit_bonus(env):
    s = env.state
    s.hull[0], s.heat[0], s.credits[0] = 1.0, 100.0, 5000.0
    env.refresh_views()
    before, exp = Model(env), Model(env)
    exp.fuel, exp.heat, exp.alert = 996.0, 106.0, 3.0  # refine: 1 heat over, 1.25 hull
    exp.global_dynamics(2)
    exp.done = True
    assert_step(env, A_REFINE, before, exp, dt=2)  # -100 and the hull term, no bonus
    assert env.terminals[0] and not env.truncations[0]
    st = stats(env)
    assert (st["destroyed"], st["stranded"], st["survival"], st["cash_out"]) == (1, 0, 0, 0)
    assert st["hull_damage"] == 100.0


def test_empty_tank_off_station_strands_the_ship(env):
    place_ship(env, FIELD)
    env.state.fuel[0] = 3.0
    env.refresh_views()
    before, exp = Model(env), Model(env)
    exp.fuel, exp.alert, exp.scan_count = -2.0, 4.0, 1  # wide scan, 5 fuel
    exp.global_dynamics(3)
    exp.done = True
    assert_step(env, A_WIDE_SCAN, before, exp, dt=3)  # -50
    assert env.terminals[0]
    st = stats(env)
    assert (st["stranded"], st["destroyed"], st["survival"], st["fuel_used"]) == (1, 0, 0, 1000.0)


def test_empty_tank_at_the_station_is_not_stranded(env):
    env.state.fuel[0] = 3.0
    env.refresh_views()
    step_one(env, A_REFINE)  # 4 fuel
    assert env.state.fuel[0] == 0.0
    assert not env.terminals[0] and not env.truncations[0] and not env.state.done[0]


def test_running_out_of_time_truncates_with_the_credit_bonus(env):
    s = env.state
    s.time_remaining[0], s.credits[0] = 1, 2000.0
    env.refresh_views()
    before, exp = Model(env), Model(env)
    exp.hold()
    exp.global_dynamics(1)
    exp.done = True
    assert_step(env, A_HOLD, before, exp, dt=1)  # bonus 0.002 * 2000 / 1000
    assert env.truncations[0] and not env.terminals[0]
    st = stats(env)
    assert (st["survival"], st["cash_out"], st["destroyed"], st["stranded"]) == (1, 0, 0, 0)


def test_finished_episode_restarts_in_the_same_step_and_reports_its_statistics():
    """Spec 3: auto-reset with the env's next seed; the last observation and the statistics
    are reported for the env that finished, and infos is empty when nothing finished."""
    env = ProspectorEnv(num_envs=2, seed=9)
    env.reset()
    first_seed = int(env.state.episode_seed[1])
    env.state.credits[1] = 3000.0
    env.refresh_views()
    _, _, _, _, infos = env.step(np.array([A_HOLD, A_HOLD]))
    assert infos == []
    _, _, terminals, _, infos = env.step(np.array([A_HOLD, A_CASH_OUT]))
    assert terminals.tolist() == [False, True]
    assert infos[0]["finished"].tolist() == [1]
    assert stats(env, 1)["credits"] == 3000.0 and stats(env, 1)["length"] == 2
    assert env.final_observations[1, 7] == pytest.approx(math.log1p(3000.0) / math.log1p(1e7))
    assert int(env.state.episode_seed[1]) != first_seed
    assert (env.state.ticks[1], env.state.credits[1], env.observations[1, 7], env.observations[1, 6]) == (0, 0, 0, 1)
