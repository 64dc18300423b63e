"""What the player sees: the observation rows and action masks the kernels write in place,
and the state queries they and the dynamics share. `s` is an `EnvStateRef` (see state.py).

The action mask is the single definition of validity: an action is valid exactly when the
mask allows it.
"""

import math

import numpy as np
from numba import njit

from trainer.env.rules import *  # noqa: F403 (the rule constants, compile-time in numba)
from trainer.env.world import clamp

_LOG1P_CREDITS_CAP = math.log1p(CREDITS_CAP)
SCOUT_VALUE_NORM = float(PRICE_MAX.max())


@njit(cache=True)
def cargo_total(s, i):
    total = 0.0
    for c in range(N_COMMODITIES):
        total += s.cargo[i, c]
    return total


@njit(cache=True)
def cargo_value(s, i):
    value = 0.0
    for c in range(N_COMMODITIES):
        value += s.cargo[i, c] * s.price[i, c]
    return value


@njit(cache=True)
def has_valid_selection(s, i):
    """A selected asteroid that is not depleted."""
    a = s.selected[i]
    if a < 0:
        return False
    return s.depletion[i, s.node[i], a] < 1.0


@njit(cache=True)
def write_action_mask(s, i, mask):
    """mask[i, a] = True exactly when action a takes its valid branch in env i's current state.

    Beyond spec 1.4's invalid cases, actions that cannot change the state or only pay for
    nothing are masked (spec 2.10): selling or jettisoning a commodity not carried, selecting
    the asteroid already selected, docking with no alert, buying fuel with a full tank,
    repairing a tool or hull that is intact, and an overhaul of an intact ship.
    """
    node = s.node[i]
    at_station = node == 0
    credits = s.credits[i]
    kits = s.kits[i]
    stabilizers = s.stabilizers[i]
    decoys = s.decoys[i]
    selection = has_valid_selection(s, i)
    worn_tool = s.tool[i] < TOOL_MAX
    worn_hull = s.hull[i] < HULL_MAX
    for k in range(MAX_NEIGHBORS):
        mask[i, A_TRAVEL + k] = s.neighbor[i, node, k] >= 0
    mask[i, A_HOLD] = True
    mask[i, A_EMERGENCY_BURN] = True
    mask[i, A_WIDE_SCAN] = True
    mask[i, A_FOCUSED_SCAN] = selection
    mask[i, A_DEEP_SCAN] = selection
    mask[i, A_THREAT_LISTEN] = True
    count = s.asteroid_count[i, node]
    for a in range(MAX_ASTEROIDS):
        depleted = s.depletion[i, node, a] >= 1.0
        mask[i, A_SELECT + a] = a < count and not depleted and a != s.selected[i]
    for m in range(3):
        mask[i, A_MINE + m] = selection
    mask[i, A_STABILIZE] = selection and stabilizers > 0
    mask[i, A_REFINE] = True
    mask[i, A_COOLDOWN] = True
    mask[i, A_TOOL_MAINT] = kits > 0 and worn_tool
    mask[i, A_HULL_PATCH] = kits > 0 and worn_hull
    for c in range(N_COMMODITIES):
        carried = s.cargo[i, c] > 0.0
        mask[i, A_JETTISON + c] = carried
        for b in range(3):
            mask[i, A_SELL + 3 * c + b] = at_station and carried
    mask[i, A_DOCK] = at_station and s.alert[i] > 0.0
    fuel_room = s.fuel[i] < FUEL_MAX
    for p in range(3):
        mask[i, A_BUY_FUEL + p] = at_station and fuel_room and credits >= FUEL_PACK_PRICE[p]
    mask[i, A_BUY_KIT] = at_station and credits >= KIT_PRICE and kits < ITEM_CAP
    mask[i, A_BUY_STABILIZER] = at_station and credits >= STABILIZER_PRICE and stabilizers < ITEM_CAP
    mask[i, A_BUY_DECOY] = at_station and credits >= DECOY_PRICE and decoys < ITEM_CAP
    mask[i, A_OVERHAUL] = at_station and credits >= OVERHAUL_PRICE and (worn_tool or worn_hull)
    mask[i, A_CASH_OUT] = True


# What a step changed in the observation's node blocks: `update_views` rewrites only that
# (the rest of the row still shows it) besides the ship, node and market values. numpy ints:
# a kernel called with a Python int constant compiles a copy of itself for that literal.
NODE_VIEW_UNCHANGED = np.int64(0)
NODE_VIEW_SELECTION = np.int64(1)  # which asteroid is selected
NODE_VIEW_SELECTED_ASTEROID = np.int64(2)  # the selected asteroid's estimates or depletion
NODE_VIEW_ASTEROIDS = np.int64(3)  # every asteroid at the node
NODE_VIEW_NEIGHBORS = np.int64(4)  # the neighbour slots' threat estimates
NODE_VIEW_ALL = np.int64(5)  # another node, or a new episode: both blocks


@njit(cache=True, inline="always")
def _put(obs, i, j, value):
    """obs[i, j] = value, clamped to [-1, 1] (spec 1.3)."""
    obs[i, j] = clamp(value, -1.0, 1.0)


@njit(cache=True)
def _write_neighbors(s, i, node, obs):
    """The 6 neighbour slots of the current node."""
    for k in range(MAX_NEIGHBORS):
        base = OBS_NEIGHBORS + NEIGHBOR_WIDTH * k
        v = s.neighbor[i, node, k]
        if v < 0:
            for j in range(NEIGHBOR_WIDTH):
                obs[i, base + j] = 0.0
        else:
            obs[i, base] = 1.0
            node_type = s.node_type[i, v]
            for t in range(3):
                obs[i, base + 1 + t] = 1.0 if node_type == t else 0.0
            _put(obs, i, base + 4, s.edge_time[i, node, k] / TRAVEL_TIME_NORM)
            _put(obs, i, base + 5, s.edge_fuel[i, node, k] / TRAVEL_FUEL_NORM)
            _put(obs, i, base + 6, s.threat_estimate[i, node, k])


@njit(cache=True)
def _write_asteroid(s, i, node, a, obs):
    """Asteroid slot a of the current node."""
    base = OBS_ASTEROIDS + ASTEROID_WIDTH * a
    if a >= s.asteroid_count[i, node]:
        for j in range(ASTEROID_WIDTH):
            obs[i, base + j] = 0.0
        return
    obs[i, base] = 1.0
    norm = 0.0
    for c in range(N_COMMODITIES):
        norm += s.composition_estimate[i, node, a, c]
    for c in range(N_COMMODITIES):
        _put(obs, i, base + 1 + c, s.composition_estimate[i, node, a, c] / norm)
    _put(obs, i, base + 7, s.stability_estimate[i, node, a])
    _put(obs, i, base + 8, s.depletion[i, node, a])
    _put(obs, i, base + 9, s.scan_confidence[i, node, a])
    obs[i, base + 10] = 1.0 if a == s.selected[i] else 0.0


@njit(cache=True)
def _write_selection(s, i, node, obs):
    """The selected flags of the current node's asteroid slots."""
    selected = s.selected[i]
    for a in range(s.asteroid_count[i, node]):
        obs[i, OBS_ASTEROIDS + ASTEROID_WIDTH * a + 10] = 1.0 if a == selected else 0.0


@njit(cache=True)
def _write_ship_node_market(s, i, time_max, obs):
    """Every value outside the node blocks: ship, items, where the ship is, market."""
    node = s.node[i]
    _put(obs, i, 0, s.fuel[i] / FUEL_MAX)
    _put(obs, i, 1, s.hull[i] / HULL_MAX)
    _put(obs, i, 2, s.heat[i] / HEAT_MAX)
    _put(obs, i, 3, s.tool[i] / TOOL_MAX)
    _put(obs, i, 4, cargo_total(s, i) / CARGO_MAX)
    _put(obs, i, 5, s.alert[i] / ALERT_MAX)
    _put(obs, i, 6, s.time_remaining[i] / time_max)
    _put(obs, i, 7, math.log1p(max(s.credits[i], 0.0)) / _LOG1P_CREDITS_CAP)
    for c in range(N_COMMODITIES):
        _put(obs, i, OBS_CARGO + c, s.cargo[i, c] / CARGO_MAX)
    _put(obs, i, OBS_ITEMS, s.kits[i] / ITEM_CAP)
    _put(obs, i, OBS_ITEMS + 1, s.stabilizers[i] / ITEM_CAP)
    _put(obs, i, OBS_ITEMS + 2, s.decoys[i] / ITEM_CAP)
    obs[i, OBS_AT_STATION] = 1.0 if node == 0 else 0.0
    obs[i, OBS_SELECTION_VALID] = 1.0 if has_valid_selection(s, i) else 0.0
    node_type = s.node_type[i, node]
    for t in range(3):
        obs[i, OBS_NODE_TYPE + t] = 1.0 if node_type == t else 0.0
    _put(obs, i, OBS_NODE_INDEX, node / NODE_INDEX_NORM)
    _put(obs, i, OBS_HOPS, s.hops[i, node] / NODE_INDEX_NORM)
    for c in range(N_COMMODITIES):
        price = s.price[i, c]
        _put(obs, i, OBS_PRICES + c, price / PRICE_MAX[c])
        _put(obs, i, OBS_PRICE_DELTAS + c, (price - s.prev_price[i, c]) / PRICE_DELTA_NORM)
    for j in range(len(OBS_INVENTORY_COMMODITIES)):
        _put(obs, i, OBS_INVENTORY + j, s.inventory[i, OBS_INVENTORY_COMMODITIES[j]] / INVENTORY_NORM)


@njit(cache=True)
def write_observation(s, i, time_max, obs, change):
    """Row i of `obs`: env i's 260 observation values (spec 1.3, price as price/price_max per
    2.4, every value clamped to [-1, 1]), of the node blocks only what `change` (NODE_VIEW_*)
    names; the rest of them must hold what the row showed before."""
    _write_ship_node_market(s, i, time_max, obs)
    node = s.node[i]
    if change == NODE_VIEW_ALL or change == NODE_VIEW_NEIGHBORS:
        _write_neighbors(s, i, node, obs)
    if change == NODE_VIEW_ALL or change == NODE_VIEW_ASTEROIDS:
        for a in range(MAX_ASTEROIDS):
            _write_asteroid(s, i, node, a, obs)
    elif change == NODE_VIEW_SELECTED_ASTEROID:
        _write_asteroid(s, i, node, s.selected[i], obs)
    elif change == NODE_VIEW_SELECTION:
        _write_selection(s, i, node, obs)


@njit(cache=True)
def estimated_asteroid_value(s, i, node, a):
    """Credits per unit the player expects from asteroid a at `node`: its estimated composition
    at market prices, discounted by its depletion and estimated stability."""
    value = 0.0
    for c in range(N_COMMODITIES):
        value += s.composition_estimate[i, node, a, c] * s.price[i, c]
    return value * (1.0 - s.depletion[i, node, a]) * s.stability_estimate[i, node, a]


@njit(cache=True)
def write_scouting(s, i, obs):
    """Row i of `obs`: the `scouted` observation's SCOUT_DIM values after the 260: for each neighbour slot k
    of the current node, [visited, best estimated asteroid value / max price, share of its
    asteroids not depleted, hops to the station / 31]; zeros for an empty slot, and the first
    three are 0 for a node not visited this episode."""
    node = s.node[i]
    for k in range(MAX_NEIGHBORS):
        base = OBS_DIM + SCOUT_WIDTH * k
        for j in range(SCOUT_WIDTH):
            obs[i, base + j] = 0.0
        v = s.neighbor[i, node, k]
        if v < 0:
            continue
        obs[i, base + 3] = s.hops[i, v] / NODE_INDEX_NORM
        if not s.asteroids_ready[i, v]:
            continue
        count = s.asteroid_count[i, v]
        best, live = 0.0, 0
        for a in range(count):
            if s.depletion[i, v, a] < 1.0:
                live += 1
                best = max(best, estimated_asteroid_value(s, i, v, a))
        obs[i, base] = 1.0
        obs[i, base + 1] = min(1.0, best / SCOUT_VALUE_NORM)
        obs[i, base + 2] = live / count if count > 0 else 0.0


@njit(cache=True)
def update_views(s, i, time_max, scouted, observations, action_mask, change):
    """Refresh env i's observation row and action-mask row from its state after a step that
    changed `change` (NODE_VIEW_*) of the node blocks: the 260 game values, then with
    `scouted` the SCOUT_DIM scouting values, then the mask as 0/1 in any columns left."""
    write_action_mask(s, i, action_mask)
    write_observation(s, i, time_max, observations, change)
    game_width = OBS_DIM
    if scouted:
        write_scouting(s, i, observations)
        game_width += SCOUT_DIM
    width = observations.shape[1]
    for a in range(width - game_width):
        observations[i, game_width + a] = 1.0 if action_mask[i, a] else 0.0


@njit(cache=True)
def write_views(s, i, time_max, scouted, observations, action_mask):
    """Rewrite env i's observation row and action-mask row from its state."""
    update_views(s, i, time_max, scouted, observations, action_mask, NODE_VIEW_ALL)
