"""Each action family of spec 1.4/1.5 against expectations computed by hand from the spec.

Every test edits the state, writes the action's effect into a `Model` by hand, lets the model
run the step's global dynamics, and checks the env's whole state and reward (`assert_step`).
"""

import math

import numpy as np
import pytest

from tests.env.spec_model import (
    ASTEROID_FIELDS,
    FIELD,
    Model,
    assert_step,
    place_ship,
    put_asteroid,
    rig_stream,
    sigmoid,
    step_one,
)
from trainer.env.rules import (
    A_BUY_DECOY,
    A_BUY_FUEL,
    A_BUY_KIT,
    A_BUY_STABILIZER,
    A_COOLDOWN,
    A_DEEP_SCAN,
    A_DOCK,
    A_EMERGENCY_BURN,
    A_FOCUSED_SCAN,
    A_HOLD,
    A_HULL_PATCH,
    A_JETTISON,
    A_MINE,
    A_OVERHAUL,
    A_REFINE,
    A_SELECT,
    A_SELL,
    A_STABILIZE,
    A_THREAT_LISTEN,
    A_TOOL_MAINT,
    A_TRAVEL,
    A_WIDE_SCAN,
    PGE,
)


def slot_toward(env, node, wanted) -> int:
    """The first neighbour slot of `node` whose neighbour satisfies `wanted`."""
    row = env.state.neighbor[0, node]
    return next(k for k in range(6) if row[k] >= 0 and wanted(row[k]))


# Travel


def test_travel_burns_mass_scaled_fuel_takes_edge_hazard_and_clears_selection(env):
    s = env.state
    place_ship(env, FIELD)
    put_asteroid(env, 0)
    s.selected[0] = 0
    k = slot_toward(env, FIELD, lambda v: v != 0)
    dest = s.neighbor[0, FIELD, k]
    s.edge_time[0, FIELD, k], s.edge_fuel[0, FIELD, k], s.edge_threat[0, FIELD, k] = 3, 50.0, 0.4
    s.hazard[0, dest], s.pirate[0, dest] = 0.2, 0.1
    s.cargo[0] = (40, 0, 0, 0, 0, 20)
    s.fuel[0], s.heat[0], s.alert[0] = 800.0, 30.0, 10.0
    env.refresh_views()
    before, exp = Model(env), Model(env)
    exp.fuel = 742.5  # 800 - 50 * (1 + 0.5 * 60 / 200)
    exp.node, exp.selected = dest, -1
    jitter = exp.uniform(0.85, 1.15)
    exp.hull -= 3 * 0.4 * 0.7 * jitter
    exp.heat += 3 * 0.4 * 0.5
    exp.alert += 3 * 0.4 * 0.8
    exp.pirate_roll(0.4, 3, escape=False)  # at the edge's threat, over its 3 ticks
    exp.global_dynamics(3)  # then the destination's hazard and pirates
    assert_step(env, A_TRAVEL + k, before, exp, dt=3, ignore=ASTEROID_FIELDS)
    assert s.asteroids_ready[0, dest] and s.asteroid_count[0, dest] >= 5


def test_travel_into_the_station_draws_no_pirate_roll(env):
    s = env.state
    place_ship(env, FIELD)
    k = slot_toward(env, FIELD, lambda v: v == 0)
    s.edge_threat[0, FIELD, k] = 1.0
    s.cargo[0, PGE] = 100.0
    env.refresh_views()
    before, exp = Model(env), Model(env)
    dt = int(s.edge_time[0, FIELD, k])
    exp.fuel -= s.edge_fuel[0, FIELD, k] * 1.25  # mass factor 1 + 0.5 * 100 / 200
    exp.node = 0
    exp.hull -= dt * 1.0 * 0.7 * exp.uniform(0.85, 1.15)
    exp.heat += dt * 0.5
    exp.alert += dt * 0.8
    exp.global_dynamics(dt)  # at the station: the market only
    assert_step(env, A_TRAVEL + k, before, exp, dt=dt)  # the random stream must match draw for draw


# Hold, emergency burn, threat listen


def test_hold_lowers_alert_and_sheds_extra_heat(env):
    env.state.alert[0], env.state.heat[0] = 10.0, 30.0
    env.refresh_views()
    before, exp = Model(env), Model(env)
    exp.alert, exp.heat = 7.0, 27.5  # then 2.5 passive: 25
    exp.global_dynamics(1)
    assert_step(env, A_HOLD, before, exp, dt=1)
    assert env.state.heat[0] == pytest.approx(25.0)


def rig_escape_band(env, intensity: float, action) -> None:
    """Rig env 0's stream so that the coming step's pirate roll (its first draw) misses with
    the escape buff and hits without it; `action` applies the step's action to a probe."""
    probe = Model(env)
    action(probe)
    lo, hi = probe.pirate_chance(intensity, 1, escape=True), probe.pirate_chance(intensity, 1, escape=False)
    rig_stream(env, lambda m: lo < m.u01() < hi)


def test_emergency_burn_spends_fuel_raises_alert_and_escapes_this_steps_pirates(env):
    s = env.state
    place_ship(env, FIELD, pirate=0.9)
    s.alert[0], s.cargo[0, PGE] = 40.0, 50.0
    env.refresh_views()
    rig_escape_band(env, 0.9, lambda m: setattr(m, "alert", m.alert + 10.0))
    before, exp = Model(env), Model(env)
    exp.fuel, exp.alert = 982.0, 50.0
    exp.escape_until = exp.ticks + 4
    exp.global_dynamics(1, escape=True)
    assert_step(env, A_EMERGENCY_BURN, before, exp, dt=1)
    assert s.pirate_encounters[0] == 0


@pytest.mark.parametrize("holds_between, escaped", [(1, True), (2, False)])
def test_escape_buff_counts_down_four_ticks(env, holds_between, escaped):
    """Buffs drop by dt before the roll: a burn covers its own roll and the next two."""
    s = env.state
    place_ship(env, FIELD, pirate=0.9)
    s.cargo[0, PGE] = 50.0
    env.refresh_views()
    for action in [A_EMERGENCY_BURN] + [A_HOLD] * holds_between:
        step_one(env, action)
    rig_escape_band(env, 0.9, Model.hold)
    before, exp = Model(env), Model(env)
    exp.hold()
    exp.global_dynamics(1, escape=escaped)
    assert_step(env, A_HOLD, before, exp, dt=1)
    assert s.pirate_encounters[0] == before.pirate_encounters + (not escaped)


def test_threat_listen_pulls_each_edge_estimate_toward_a_noisy_reading(env):
    s = env.state
    s.threat_estimate[0, 0, :4] = (0.5, 0.1, 0.9, 0.3)
    s.edge_threat[0, 0, 0] = 0.99
    env.refresh_views()
    before, exp = Model(env), Model(env)
    for k in range(6):
        if exp.neighbor[0, k] >= 0:
            heard = min(max(exp.edge_threat[0, k] + exp.normal(0.08), 0.0), 1.0)
            exp.threat_estimate[0, k] = 0.25 * exp.threat_estimate[0, k] + 0.75 * heard
    exp.global_dynamics(2)
    assert_step(env, A_THREAT_LISTEN, before, exp, dt=2)


# Scans and selection


def scan_by_hand(exp: Model, slot: int, blend: float, gain: float, mult: float) -> None:
    """Spec 1.5 scan update of one asteroid, replaying its seven draws."""
    node = exp.node
    conf = exp.scan_confidence[node, slot]
    sigma = exp.scan_noise[node, slot] * (1.1 - conf) * mult
    noisy = np.maximum(exp.composition[node, slot] + [exp.normal(sigma) for _ in range(6)], 1e-8)
    mixed = np.maximum((1 - blend) * exp.composition_estimate[node, slot] + blend * noisy / noisy.sum(), 1e-8)
    exp.composition_estimate[node, slot] = mixed / mixed.sum()
    reading = min(max(exp.stability[node, slot] + exp.normal(sigma), 0.0), 1.0)
    exp.stability_estimate[node, slot] = (1 - blend) * exp.stability_estimate[node, slot] + blend * reading
    exp.scan_confidence[node, slot] = min(1.0, conf + gain)


def field_with_two_asteroids(env) -> None:
    place_ship(env, FIELD, hazard=0.15, pirate=0.1)
    put_asteroid(env, 0)
    skewed = {"composition": (0, 0, 0, 0.5, 0.5, 0), "estimate": (5, 1, 1, 1, 1, 1)}
    put_asteroid(env, 1, **skewed, noise=0.2, stability=0.9, confidence=0.95)


def test_wide_scan_updates_every_asteroid_here(env):
    field_with_two_asteroids(env)
    env.refresh_views()
    before, exp = Model(env), Model(env)
    exp.fuel, exp.alert = 995.0, 4.0
    for slot in (0, 1):
        scan_by_hand(exp, slot, blend=0.22, gain=0.10, mult=1.35)
    exp.scan_count = 1
    exp.global_dynamics(3)
    assert_step(env, A_WIDE_SCAN, before, exp, dt=3)
    assert env.state.scan_confidence[0, FIELD, 1] == 1.0  # 0.95 + 0.10, capped


@pytest.mark.parametrize(
    "action, dt, fuel, alert, blend, gain, mult",
    [(A_FOCUSED_SCAN, 2, 4.0, 3.0, 0.42, 0.20, 1.0), (A_DEEP_SCAN, 4, 8.0, 6.0, 0.80, 0.45, 0.55)],
    ids=["focused", "deep"],
)
def test_focused_and_deep_scans_update_only_the_selection(env, action, dt, fuel, alert, blend, gain, mult):
    field_with_two_asteroids(env)
    env.state.scan_confidence[0, FIELD, 1] = 0.3
    env.state.selected[0] = 1
    env.refresh_views()
    before, exp = Model(env), Model(env)
    exp.fuel -= fuel
    exp.alert += alert
    scan_by_hand(exp, 1, blend, gain, mult)
    exp.scan_count = 1
    exp.global_dynamics(dt)
    assert_step(env, action, before, exp, dt=dt)


def test_select_marks_the_asteroid_as_the_selection(env):
    place_ship(env, FIELD)
    for slot in range(3):
        put_asteroid(env, slot)
    env.refresh_views()
    before, exp = Model(env), Model(env)
    exp.selected = 2
    exp.global_dynamics(1)
    assert_step(env, A_SELECT + 2, before, exp, dt=1)
    assert env.observations[0, 18] == 1.0 and env.observations[0, 68 + 11 * 2 + 10] == 1.0


# Mining, fracture, stabilize

# action, yield multiplier, heat, wear, alert, yield noise sigma, fracture bias
MODES = [
    (A_MINE, 0.80, 2.0, 0.8, 1.2, 0.05, -0.7),
    (A_MINE + 1, 1.15, 4.0, 1.6, 2.2, 0.10, 0.0),
    (A_MINE + 2, 1.55, 7.0, 2.8, 4.0, 0.16, 0.8),
]
CONSERVATIVE, STANDARD, AGGRESSIVE = MODES


def fracture_chance(m: Model, mode, stabilized: bool = False) -> float:
    node, a = m.node, m.selected
    logit = (
        -3.1
        + mode[6]
        + 2.5 * (1 - m.stability[node, a])
        + 2.2 * max(0.0, m.heat / 100 - 0.7)
        + 1.5 * (1 - m.tool / 100)
        - 1.1 * stabilized
    )
    return sigmoid(logit)


def mine_by_hand(exp: Model, mode, stabilized: bool = False) -> bool:
    """Spec 1.5 mining of the selection (heat and tool read before this tick's changes);
    returns whether the asteroid fractured."""
    _, mult, heat, wear, alert, sigma, _ = mode
    node, a = exp.node, exp.selected
    heat_frac, tool_frac = exp.heat / 100, exp.tool / 100
    eff_heat = 1.0 if heat_frac <= 0.7 else max(0.1, 1 - (heat_frac - 0.7) / 0.3)
    p_fracture = fracture_chance(exp, mode, stabilized)
    amount = exp.richness[node, a] * (1 - exp.depletion[node, a]) * (0.4 + 0.6 * tool_frac) * eff_heat * mult
    amount = min(amount * math.exp(exp.normal(sigma)), max(0.0, 200.0 - exp.cargo.sum()))
    exp.cargo = exp.cargo + amount * exp.composition[node, a]
    exp.heat += heat
    exp.tool -= wear
    exp.alert += alert
    exp.depletion[node, a] = min(1.0, exp.depletion[node, a] + 0.01 * amount)
    exp.mining_ticks += 1
    if exp.u01() >= p_fracture:
        return False
    exp.hull -= 12.0 * exp.uniform(0.5, 1.0)
    exp.depletion[node, a] = 1.0
    exp.hazard[node] = min(1.0, exp.hazard[node] + 0.1)
    return True


def rig_fracture_roll(env, mode, lo: float, hi: float) -> None:
    """Rig env 0's stream so that mining in `mode` draws its fracture roll in (lo, hi)."""

    def roll_in_range(m: Model) -> bool:
        m.normal(mode[5])  # the yield noise comes first
        return lo < m.u01() < hi

    rig_stream(env, roll_in_range)


def mining_at_field(env, **asteroid) -> None:
    place_ship(env, FIELD, hazard=0.1, pirate=0.05)
    put_asteroid(env, 0, **asteroid)
    env.state.selected[0] = 0


@pytest.mark.parametrize("mode", MODES, ids=["conservative", "standard", "aggressive"])
def test_mining_yield_scales_with_richness_depletion_tool_and_pre_gain_heat(env, mode):
    s = env.state
    mining_at_field(env, richness=2.0, depletion=0.3)
    s.heat[0], s.tool[0], s.alert[0], s.cargo[0, 0] = 80.0, 70.0, 10.0, 10.0
    env.refresh_views()
    rig_fracture_roll(env, mode, fracture_chance(Model(env), mode), 1.0)
    noise = math.exp(Model(env).normal(mode[5]))
    # heat 80 before this tick's gain: efficiency 1 - (0.8 - 0.7) / 0.3; tool 70: 0.4 + 0.6 * 0.7
    amount = 2.0 * (1 - 0.3) * 0.82 * (2 / 3) * mode[1] * noise
    before, exp = Model(env), Model(env)
    assert not mine_by_hand(exp, mode)
    exp.global_dynamics(1)
    assert_step(env, mode[0], before, exp, dt=1)
    assert s.depletion[0, FIELD, 0] == pytest.approx(0.3 + 0.01 * amount)
    assert s.mining_ticks[0] == 1


def test_mining_fills_only_the_free_cargo(env):
    mining_at_field(env, richness=4.0)
    env.state.cargo[0] = (100.0, 99.5, 0, 0, 0, 0)
    env.refresh_views()
    rig_fracture_roll(env, STANDARD, fracture_chance(Model(env), STANDARD), 1.0)
    before, exp = Model(env), Model(env)
    mine_by_hand(exp, STANDARD)
    exp.global_dynamics(1)
    assert_step(env, STANDARD[0], before, exp, dt=1)
    assert env.state.depletion[0, FIELD, 0] == pytest.approx(0.005)  # 0.5 units extracted


def test_fracture_damages_hull_exhausts_the_asteroid_and_raises_node_hazard(env):
    mining_at_field(env, stability=0.1)
    env.state.tool[0] = 40.0
    env.refresh_views()
    rig_fracture_roll(env, AGGRESSIVE, 0.0, fracture_chance(Model(env), AGGRESSIVE))
    before, exp = Model(env), Model(env)
    assert mine_by_hand(exp, AGGRESSIVE)
    exp.global_dynamics(1)
    assert_step(env, AGGRESSIVE[0], before, exp, dt=1)
    assert env.state.depletion[0, FIELD, 0] == 1.0
    assert env.state.hazard[0, FIELD] == pytest.approx(0.2)
    assert env.observations[0, 18] == 0.0 and not env.action_mask[0, A_MINE : A_MINE + 3].any()


def test_stabilize_spends_a_stabilizer_and_takes_two_ticks(env):
    mining_at_field(env)
    env.refresh_views()
    before, exp = Model(env), Model(env)
    exp.stabilizers = 1
    exp.stabilized_until[FIELD, 0] = 6  # a 6-tick buff from tick 0
    exp.global_dynamics(2)
    assert_step(env, A_STABILIZE, before, exp, dt=2)


OTHER_FIELD = 2


@pytest.mark.parametrize(
    "mine_at, holds_between, protected",
    [(FIELD, 0, True), (FIELD, 3, True), (FIELD, 4, False), (OTHER_FIELD, 0, False)],
)
def test_stabilize_protects_that_asteroid_for_six_ticks_at_that_node_only(env, mine_at, holds_between, protected):
    """Spec 2.2: the buff is keyed by (node, slot); it lasts 6 ticks, 2 of them the stabilize's."""
    mining_at_field(env, stability=0.3)
    env.refresh_views()
    step_one(env, A_STABILIZE)
    for _ in range(holds_between):
        step_one(env, A_HOLD)
    if mine_at != FIELD:
        place_ship(env, mine_at, hazard=0.1, pirate=0.05)
        put_asteroid(env, 0, stability=0.3)
        env.state.selected[0] = 0
    env.refresh_views()
    probe = Model(env)
    rig_fracture_roll(env, STANDARD, fracture_chance(probe, STANDARD, True), fracture_chance(probe, STANDARD))
    before, exp = Model(env), Model(env)
    assert mine_by_hand(exp, STANDARD, stabilized=protected) != protected
    exp.global_dynamics(1)
    assert_step(env, STANDARD[0], before, exp, dt=1)


# Refine, cooldown, repairs, jettison, dock


def test_refine_turns_15pct_of_iron_and_nickel_into_065x_rare_isotopes(env):
    s = env.state
    s.cargo[0] = (40, 20, 0, 0, 5, 0)
    s.heat[0], s.alert[0] = 30.0, 10.0
    env.refresh_views()
    before, exp = Model(env), Model(env)
    exp.cargo = np.array([34.0, 17.0, 0, 0, 10.85, 0])  # 9 taken, 5.85 made
    exp.fuel, exp.heat, exp.alert = 996.0, 36.0, 13.0
    exp.global_dynamics(2)
    assert_step(env, A_REFINE, before, exp, dt=2)


@pytest.mark.parametrize("heat, cooled", [(50.0, 30.0), (15.0, 0.0)])
def test_cooldown_sheds_20_heat_down_to_zero(env, heat, cooled):
    env.state.heat[0] = heat
    env.refresh_views()
    before, exp = Model(env), Model(env)
    exp.fuel, exp.heat, exp.alert = 998.0, cooled, 1.0
    exp.global_dynamics(2)
    assert_step(env, A_COOLDOWN, before, exp, dt=2)


@pytest.mark.parametrize(
    "action, part, start, repaired", [(A_TOOL_MAINT, "tool", 60.0, 85.0), (A_HULL_PATCH, "hull", 90.0, 100.0)]
)
def test_repair_kit_restores_tool_or_hull(env, action, part, start, repaired):
    getattr(env.state, part)[0] = start
    env.refresh_views()
    before, exp = Model(env), Model(env)
    exp.kits = 2
    setattr(exp, part, repaired)  # +25 tool / +20 hull, capped at 100
    exp.global_dynamics(2)
    assert_step(env, action, before, exp, dt=2)


@pytest.mark.parametrize("commodity", range(6))
def test_jettison_dumps_one_commodity_and_calms_alert(env, commodity):
    env.state.cargo[0] = (10, 20, 30, 40, 50, 60)
    env.state.alert[0] = 20.0
    env.refresh_views()
    before, exp = Model(env), Model(env)
    exp.cargo[commodity] = 0.0
    exp.alert = 12.0
    exp.global_dynamics(1)
    assert_step(env, A_JETTISON + commodity, before, exp, dt=1)


def test_dock_at_the_station_cuts_alert_by_20(env):
    env.state.alert[0] = 30.0
    env.refresh_views()
    before, exp = Model(env), Model(env)
    exp.alert = 10.0
    exp.global_dynamics(1)
    assert_step(env, A_DOCK, before, exp, dt=1)


# Station trade


@pytest.mark.parametrize(
    "commodity, bucket, cargo, inventory",
    [(PGE, 1, 80.0, 60.0), (0, 0, 80.0, 60.0), (4, 2, 80.0, 300.0), (5, 2, 0.5, 0.0)],
)
def test_sell_pays_price_less_slippage_and_moves_cargo_to_the_station(env, commodity, bucket, cargo, inventory):
    """E.g. half of 80 pge into 60 in stock: ratio 40/100, slippage 0.25*0.4 + 0.2*sqrt(0.4)."""
    s = env.state
    s.cargo[0, commodity], s.inventory[0, commodity] = cargo, inventory
    s.recent_sales[0, commodity] = 7.0
    env.refresh_views()
    before, exp = Model(env), Model(env)
    qty = cargo * (0.25, 0.5, 1.0)[bucket]
    ratio = qty / max(1.0, inventory + qty)
    slip = min(0.7, 0.25 * ratio + 0.2 * math.sqrt(ratio))
    exp.credits += qty * exp.price[commodity] * (1 - slip)
    exp.cargo[commodity] -= qty
    exp.inventory[commodity] += qty
    exp.recent_sales[commodity] += qty
    exp.global_dynamics(1)
    assert_step(env, A_SELL + 3 * commodity + bucket, before, exp, dt=1)


@pytest.mark.parametrize("pack, units, price", [(0, 120.0, 60.0), (1, 260.0, 120.0), (2, 480.0, 210.0)])
def test_buy_fuel_pack_costs_its_price_and_fills_up_to_1000(env, pack, units, price):
    env.state.fuel[0], env.state.credits[0] = 800.0, 1000.0
    env.refresh_views()
    before, exp = Model(env), Model(env)
    exp.credits = 1000.0 - price
    exp.fuel = min(1000.0, 800.0 + units)
    exp.global_dynamics(1)
    assert_step(env, A_BUY_FUEL + pack, before, exp, dt=1)


@pytest.mark.parametrize(
    "action, item, price",
    [(A_BUY_KIT, "kits", 150.0), (A_BUY_STABILIZER, "stabilizers", 175.0), (A_BUY_DECOY, "decoys", 110.0)],
)
def test_buy_item_adds_one_up_to_the_cap_of_12(env, action, item, price):
    getattr(env.state, item)[0] = 11
    env.state.credits[0] = 1000.0
    env.refresh_views()
    before, exp = Model(env), Model(env)
    setattr(exp, item, 12)
    exp.credits = 1000.0 - price
    exp.global_dynamics(1)
    assert_step(env, action, before, exp, dt=1)
    assert not env.action_mask[0, action]


@pytest.mark.parametrize(
    "action, price",
    [(A_BUY_FUEL, 60.0), (A_BUY_FUEL + 1, 120.0), (A_BUY_FUEL + 2, 210.0), (A_BUY_KIT, 150.0)]
    + [(A_BUY_STABILIZER, 175.0), (A_BUY_DECOY, 110.0), (A_OVERHAUL, 280.0)],
)
def test_station_purchases_need_their_price_in_credits(env, action, price):
    env.state.fuel[0] = 500.0  # a fuel pack or an overhaul that buys nothing is masked (spec 2.10)
    env.state.hull[0] = 90.0
    env.state.credits[0] = price
    env.refresh_views()
    assert env.action_mask[0, action]
    env.state.credits[0] = price - 0.01
    env.refresh_views()
    assert not env.action_mask[0, action]


def test_overhaul_restores_hull_and_tool_for_280(env):
    s = env.state
    s.credits[0], s.hull[0], s.tool[0] = 300.0, 40.0, 30.0
    env.refresh_views()
    before, exp = Model(env), Model(env)
    exp.credits, exp.hull, exp.tool = 20.0, 100.0, 100.0
    exp.global_dynamics(3)
    assert_step(env, A_OVERHAUL, before, exp, dt=3)


def test_actions_that_cannot_change_the_state_or_pay_for_nothing_are_masked(env):
    """Spec 2.10: sell/jettison of an empty hold slot, re-selecting the selected asteroid,
    docking with no alert, fuel for a full tank, repairs and overhaul of an intact ship."""
    s = env.state
    s.credits[0], s.kits[0], s.alert[0] = 5000.0, 3, 0.0
    s.cargo[0, :] = 0.0
    s.cargo[0, 2] = 10.0
    env.refresh_views()
    mask = env.action_mask[0]
    carried = [c == 2 for c in range(6)]
    assert list(mask[A_JETTISON : A_JETTISON + 6]) == carried
    assert list(mask[A_SELL : A_SELL + 18]) == [c == 2 for c in range(6) for _ in range(3)]
    assert not mask[A_DOCK]
    assert not mask[A_BUY_FUEL : A_BUY_FUEL + 3].any()
    assert not mask[A_TOOL_MAINT] and not mask[A_HULL_PATCH] and not mask[A_OVERHAUL]

    s.alert[0], s.fuel[0], s.tool[0] = 5.0, 999.0, 99.0
    env.refresh_views()
    mask = env.action_mask[0]
    assert mask[A_DOCK] and mask[A_BUY_FUEL : A_BUY_FUEL + 3].all()
    assert mask[A_TOOL_MAINT] and not mask[A_HULL_PATCH] and mask[A_OVERHAUL]


def test_selecting_the_selected_asteroid_is_masked(env):
    place_ship(env, FIELD)
    put_asteroid(env, 0)
    put_asteroid(env, 1)
    env.refresh_views()
    assert env.action_mask[0, A_SELECT + 0]
    step_one(env, A_SELECT + 0)
    assert not env.action_mask[0, A_SELECT + 0]
    assert env.action_mask[0, A_SELECT + 1]
