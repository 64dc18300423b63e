"""What the player sees: the observation rows and action masks the kernels write in place,
and the state queries they and the dynamics share. `s` is an `EnvStateRef` (see state.py).

The action mask is the single definition of validity: an action is valid exactly when the
mask allows it.
"""

import math

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
    """mask[a] = True exactly when action a takes its valid branch in env i's current state.

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
        mask[A_TRAVEL + k] = s.neighbor[i, node, k] >= 0
    mask[A_HOLD] = True
    mask[A_EMERGENCY_BURN] = True
    mask[A_WIDE_SCAN] = True
    mask[A_FOCUSED_SCAN] = selection
    mask[A_DEEP_SCAN] = selection
    mask[A_THREAT_LISTEN] = True
    count = s.asteroid_count[i, node]
    for a in range(MAX_ASTEROIDS):
        depleted = s.depletion[i, node, a] >= 1.0
        mask[A_SELECT + a] = a < count and not depleted and a != s.selected[i]
    for m in range(3):
        mask[A_MINE + m] = selection
    mask[A_STABILIZE] = selection and stabilizers > 0
    mask[A_REFINE] = True
    mask[A_COOLDOWN] = True
    mask[A_TOOL_MAINT] = kits > 0 and worn_tool
    mask[A_HULL_PATCH] = kits > 0 and worn_hull
    for c in range(N_COMMODITIES):
        carried = s.cargo[i, c] > 0.0
        mask[A_JETTISON + c] = carried
        for b in range(3):
            mask[A_SELL + 3 * c + b] = at_station and carried
    mask[A_DOCK] = at_station and s.alert[i] > 0.0
    fuel_room = s.fuel[i] < FUEL_MAX
    for p in range(3):
        mask[A_BUY_FUEL + p] = at_station and fuel_room and credits >= FUEL_PACK_PRICE[p]
    mask[A_BUY_KIT] = at_station and credits >= KIT_PRICE and kits < ITEM_CAP
    mask[A_BUY_STABILIZER] = at_station and credits >= STABILIZER_PRICE and stabilizers < ITEM_CAP
    mask[A_BUY_DECOY] = at_station and credits >= DECOY_PRICE and decoys < ITEM_CAP
    mask[A_OVERHAUL] = at_station and credits >= OVERHAUL_PRICE and (worn_tool or worn_hull)
    mask[A_CASH_OUT] = True


@njit(cache=True)
def _write_neighbors(neighbor, node_type, edge_time, edge_fuel, threat_estimate, obs):
    """The 6 neighbour slots of the current node (arguments are that node's rows)."""
    for k in range(MAX_NEIGHBORS):
        base = OBS_NEIGHBORS + NEIGHBOR_WIDTH * k
        v = neighbor[k]
        if v < 0:
            for j in range(NEIGHBOR_WIDTH):
                obs[base + j] = 0.0
        else:
            obs[base] = 1.0
            for t in range(3):
                obs[base + 1 + t] = 1.0 if node_type[v] == t else 0.0
            obs[base + 4] = edge_time[k] / TRAVEL_TIME_NORM
            obs[base + 5] = edge_fuel[k] / TRAVEL_FUEL_NORM
            obs[base + 6] = threat_estimate[k]


@njit(cache=True)
def _write_asteroids(count, selected, composition_estimate, stability_estimate, depletion, confidence, obs):
    """The 16 asteroid slots of the current node (arguments are that node's rows)."""
    for a in range(MAX_ASTEROIDS):
        base = OBS_ASTEROIDS + ASTEROID_WIDTH * a
        if a >= count:
            for j in range(ASTEROID_WIDTH):
                obs[base + j] = 0.0
        else:
            obs[base] = 1.0
            norm = 0.0
            for c in range(N_COMMODITIES):
                norm += composition_estimate[a, c]
            for c in range(N_COMMODITIES):
                obs[base + 1 + c] = composition_estimate[a, c] / norm
            obs[base + 7] = stability_estimate[a]
            obs[base + 8] = depletion[a]
            obs[base + 9] = confidence[a]
            obs[base + 10] = 1.0 if a == selected else 0.0


@njit(cache=True)
def write_observation(s, i, time_max, obs):
    """The 260 observation values of env i (spec 1.3, price as price/price_max per 2.4)."""
    node = s.node[i]
    total = cargo_total(s, i)
    obs[0] = s.fuel[i] / FUEL_MAX
    obs[1] = s.hull[i] / HULL_MAX
    obs[2] = s.heat[i] / HEAT_MAX
    obs[3] = s.tool[i] / TOOL_MAX
    obs[4] = total / CARGO_MAX
    obs[5] = s.alert[i] / ALERT_MAX
    obs[6] = s.time_remaining[i] / time_max
    obs[7] = math.log1p(max(s.credits[i], 0.0)) / _LOG1P_CREDITS_CAP
    for c in range(N_COMMODITIES):
        obs[OBS_CARGO + c] = s.cargo[i, c] / CARGO_MAX
    obs[OBS_ITEMS] = s.kits[i] / ITEM_CAP
    obs[OBS_ITEMS + 1] = s.stabilizers[i] / ITEM_CAP
    obs[OBS_ITEMS + 2] = s.decoys[i] / ITEM_CAP
    obs[OBS_AT_STATION] = 1.0 if node == 0 else 0.0
    selection = has_valid_selection(s, i)
    obs[OBS_SELECTION_VALID] = 1.0 if selection else 0.0
    node_type = s.node_type[i, node]
    for t in range(3):
        obs[OBS_NODE_TYPE + t] = 1.0 if node_type == t else 0.0
    obs[OBS_NODE_INDEX] = node / NODE_INDEX_NORM
    obs[OBS_HOPS] = s.hops[i, node] / NODE_INDEX_NORM
    _write_neighbors(s.neighbor[i, node], s.node_type[i], s.edge_time[i, node], s.edge_fuel[i, node],
                     s.threat_estimate[i, node], obs)
    _write_asteroids(s.asteroid_count[i, node], s.selected[i], s.composition_estimate[i, node],
                     s.stability_estimate[i, node], s.depletion[i, node], s.scan_confidence[i, node], obs)
    price, prev_price, inventory = s.price[i], s.prev_price[i], s.inventory[i]
    for c in range(N_COMMODITIES):
        obs[OBS_PRICES + c] = price[c] / PRICE_MAX[c]
        obs[OBS_PRICE_DELTAS + c] = clamp((price[c] - prev_price[c]) / PRICE_DELTA_NORM, -1.0, 1.0)
    for j in range(len(OBS_INVENTORY_COMMODITIES)):
        obs[OBS_INVENTORY + j] = min(inventory[OBS_INVENTORY_COMMODITIES[j]] / INVENTORY_NORM, 1.0)

    for j in range(OBS_DIM):
        obs[j] = clamp(obs[j], -1.0, 1.0)


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
    """The `scouted` observation's SCOUT_DIM values after the 260: for each neighbour slot k
    of the current node, [visited, best estimated asteroid value / max price, share of its
    asteroids not depleted, hops to the station / 31]; zeros for an empty slot, and the first
    three are 0 for a node not visited this episode."""
    node = s.node[i]
    for k in range(MAX_NEIGHBORS):
        base = OBS_DIM + SCOUT_WIDTH * k
        for j in range(SCOUT_WIDTH):
            obs[base + j] = 0.0
        v = s.neighbor[i, node, k]
        if v < 0:
            continue
        obs[base + 3] = s.hops[i, v] / NODE_INDEX_NORM
        if not s.asteroids_ready[i, v]:
            continue
        count = s.asteroid_count[i, v]
        best, live = 0.0, 0
        for a in range(count):
            if s.depletion[i, v, a] < 1.0:
                live += 1
                best = max(best, estimated_asteroid_value(s, i, v, a))
        obs[base] = 1.0
        obs[base + 1] = min(1.0, best / SCOUT_VALUE_NORM)
        obs[base + 2] = live / count if count > 0 else 0.0


@njit(cache=True)
def write_views(s, i, time_max, scouted, observations, action_mask):
    """Refresh env i's observation row and action-mask row from its state: the 260 game values,
    then with `scouted` the SCOUT_DIM scouting values, then the mask as 0/1 in any columns left."""
    write_action_mask(s, i, action_mask[i])
    write_observation(s, i, time_max, observations[i])
    game_width = OBS_DIM
    if scouted:
        write_scouting(s, i, observations[i])
        game_width += SCOUT_DIM
    width = observations.shape[1]
    for a in range(width - game_width):
        observations[i, game_width + a] = 1.0 if action_mask[i, a] else 0.0
