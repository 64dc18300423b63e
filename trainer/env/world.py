"""World generation (spec 1.2, with the connected-tree fix of 2.8), compiled.

The graph and the market are drawn at reset from the episode's stream. A node's asteroids
are drawn on the ship's first visit from a stream of their own, seeded by (episode seed,
node), so the world is a function of the episode seed alone, whatever order nodes are visited
in, and random play (which visits few nodes) does not pay for the asteroids it never sees.
"""

import math

import numpy as np
from numba import njit

from trainer.env.rng import (
    beta_int,
    derive_seed,
    exponential,
    integers,
    normal,
    pcg32_seed,
    uniform,
    uniform01,
)
from trainer.env.rules import (
    ASTEROID_NOISE_RANGE,
    ASTEROIDS_RANGE,
    CLUSTER,
    EDGE_FUEL_RANGE,
    EDGE_THREAT_NOISE,
    EDGE_TIME_RANGE,
    HAZARD,
    HAZARD_NODE_CHANCE,
    HAZARD_NODE_EXTRA,
    MARKET_AMPLITUDE_RANGE,
    MARKET_INVENTORY_RANGE,
    MARKET_PERIOD_RANGE,
    MAX_ASTEROIDS,
    MAX_NEIGHBORS,
    MAX_NODES,
    N_COMMODITIES,
    NODE_HAZARD_RANGE,
    NODE_PIRATE_RANGE,
    NODES_RANGE,
    PRICE_BASE,
    PRICE_MAX,
    PRICE_MIN,
    RICHNESS_CLAMP,
    RICHNESS_LOGNORMAL,
    SCAN_CONFIDENCE_START,
    STABILITY_BETA,
    STABILITY_ESTIMATE_START,
    START_DECOYS,
    START_FUEL,
    START_HULL,
    START_KITS,
    START_STABILIZERS,
    START_TOOL,
    STATION,
    THREAT_ESTIMATE_START,
)
from trainer.env.trig import sine

_ASTEROID_SEED_DOMAIN = np.int64(0xA57E401D)  # numpy: see rng.derive_seed


@njit(cache=True, inline="always")
def clamp(x, lo, hi):
    return min(max(x, lo), hi)


@njit(cache=True, inline="always")
def _linked(s, i, u, v):
    for k in range(MAX_NEIGHBORS):
        if s.neighbor[i, u, k] == v:
            return True
    return False


@njit(cache=True, inline="always")
def _add_edge(s, i, u, v):
    """Draw an edge's time, fuel and threat, and store it in each endpoint's first free slot
    (both have one)."""
    time = integers(s.rng, i, EDGE_TIME_RANGE[0], EDGE_TIME_RANGE[1])
    fuel = uniform(s.rng, i, EDGE_FUEL_RANGE[0], EDGE_FUEL_RANGE[1])
    threat = clamp(
        0.5 * (s.hazard[i, u] + s.hazard[i, v])
        + 0.5 * (s.pirate[i, u] + s.pirate[i, v])
        + normal(s.rng, i, 0.0, EDGE_THREAT_NOISE),
        0.0,
        1.0,
    )
    for a, b in ((u, v), (v, u)):
        k = s.scratch_degree[i, a]  # slots fill in order: the first free one
        s.neighbor[i, a, k] = b
        s.edge_time[i, a, k] = time
        s.edge_fuel[i, a, k] = fuel
        s.edge_threat[i, a, k] = threat
        s.threat_estimate[i, a, k] = THREAT_ESTIMATE_START
        s.scratch_degree[i, a] = k + 1


@njit(cache=True)
def _compute_hops(s, i):
    """BFS hop counts from the station; MAX_NODES - 1 for a node it cannot reach."""
    n = s.n_nodes[i]
    unreachable = MAX_NODES - 1
    for v in range(MAX_NODES):
        s.hops[i, v] = unreachable
    queue = s.scratch_nodes
    s.hops[i, 0] = 0
    queue[i, 0] = 0
    head, tail = 0, 1
    while head < tail:
        u = queue[i, head]
        head += 1
        for k in range(MAX_NEIGHBORS):
            v = s.neighbor[i, u, k]
            if v <= 0:
                continue
            if s.hops[i, v] == unreachable:
                s.hops[i, v] = s.hops[i, u] + 1
                queue[i, tail] = v
                tail += 1
    for v in range(n, MAX_NODES):
        s.hops[i, v] = unreachable


@njit(cache=True)
def generate_world(s, i, episode_seed, time_max):
    """Start a new episode in env i: seed its stream, draw the world, reset the ship."""
    s.episode_seed[i] = episode_seed
    pcg32_seed(s.rng, i, episode_seed)
    n = integers(s.rng, i, NODES_RANGE[0], NODES_RANGE[1])
    # Nodes beyond both this world and the last one hold no edges already (a fresh state
    # holds zeros, not -1s: clear it all); a node's asteroid rows wait for its first visit.
    stale = s.n_nodes[i] if s.n_nodes[i] > 0 else MAX_NODES
    s.n_nodes[i] = n

    for v in range(MAX_NODES):
        s.node_type[i, v] = STATION
        s.hazard[i, v] = 0.0
        s.pirate[i, v] = 0.0
        s.asteroids_ready[i, v] = False
        s.asteroid_count[i, v] = 0
        s.scratch_degree[i, v] = 0
    for v in range(max(n, stale)):
        for k in range(MAX_NEIGHBORS):
            s.neighbor[i, v, k] = -1
            s.edge_time[i, v, k] = 0
            s.edge_fuel[i, v, k] = 0.0
            s.edge_threat[i, v, k] = 0.0
            s.threat_estimate[i, v, k] = 0.0

    for v in range(1, n):
        is_hazard = uniform01(s.rng, i) < HAZARD_NODE_CHANCE
        hazard = uniform(s.rng, i, NODE_HAZARD_RANGE[0], NODE_HAZARD_RANGE[1])
        pirate = uniform(s.rng, i, NODE_PIRATE_RANGE[0], NODE_PIRATE_RANGE[1])
        if is_hazard:
            s.node_type[i, v] = HAZARD
            hazard = min(1.0, hazard + HAZARD_NODE_EXTRA[0])
            pirate = min(1.0, pirate + HAZARD_NODE_EXTRA[1])
        else:
            s.node_type[i, v] = CLUSTER
        s.hazard[i, v] = hazard
        s.pirate[i, v] = pirate

    # Spanning tree: the parent is drawn among earlier nodes that still have a free slot, in
    # index order (kept as a list: a node joins it once connected, leaves it once full).
    candidates = s.scratch_nodes
    candidates[i, 0] = 0
    m = 1
    for v in range(1, n):
        k = integers(s.rng, i, 0, m)
        parent = candidates[i, k]
        _add_edge(s, i, v, parent)
        if s.scratch_degree[i, parent] == MAX_NEIGHBORS:
            for j in range(k, m - 1):
                candidates[i, j] = candidates[i, j + 1]
            m -= 1
        candidates[i, m] = v
        m += 1

    for _ in range(n):
        u = integers(s.rng, i, 0, n)
        v = integers(s.rng, i, 0, n)
        if u == v:
            continue
        linked = _linked(s, i, u, v)
        full = max(s.scratch_degree[i, u], s.scratch_degree[i, v]) >= MAX_NEIGHBORS
        if not linked and not full:
            _add_edge(s, i, u, v)

    _compute_hops(s, i)

    for c in range(N_COMMODITIES):
        s.inventory[i, c] = uniform(s.rng, i, MARKET_INVENTORY_RANGE[0], MARKET_INVENTORY_RANGE[1])
        s.price_phase[i, c] = uniform(s.rng, i, 0.0, 2.0 * math.pi)
        s.price_period[i, c] = uniform(s.rng, i, MARKET_PERIOD_RANGE[0], MARKET_PERIOD_RANGE[1])
        s.price_amplitude[i, c] = PRICE_BASE[c] * uniform(
            s.rng, i, MARKET_AMPLITUDE_RANGE[0], MARKET_AMPLITUDE_RANGE[1]
        )
        price = clamp(
            PRICE_BASE[c] + s.price_amplitude[i, c] * sine(s.price_phase[i, c]),
            PRICE_MIN[c],
            PRICE_MAX[c],
        )
        s.price[i, c] = price
        s.prev_price[i, c] = price
        s.recent_sales[i, c] = 0.0

    s.fuel[i] = START_FUEL
    s.hull[i] = START_HULL
    s.heat[i] = 0.0
    s.tool[i] = START_TOOL
    s.alert[i] = 0.0
    s.credits[i] = 0.0
    for c in range(N_COMMODITIES):
        s.cargo[i, c] = 0.0
    s.kits[i] = START_KITS
    s.stabilizers[i] = START_STABILIZERS
    s.decoys[i] = START_DECOYS
    s.node[i] = 0
    s.selected[i] = -1
    s.time_remaining[i] = time_max
    s.ticks[i] = 0
    s.escape_until[i] = 0
    s.done[i] = False

    s.episode_return[i] = 0.0
    s.episode_length[i] = 0
    s.overheat_ticks[i] = 0
    s.pirate_encounters[i] = 0
    s.value_lost_to_pirates[i] = 0.0
    s.scan_count[i] = 0
    s.mining_ticks[i] = 0
    s.invalid_count[i] = 0
    s.cargo_utilization_sum[i] = 0.0


@njit(cache=True, inline="always")
def _draw_composition(r, i, composition, node, a):
    """composition[i, node, a] = a Dirichlet(1, ..., 1) draw from stream r: exponentials over their sum."""
    total = 0.0
    for c in range(N_COMMODITIES):
        x = exponential(r, i)
        composition[i, node, a, c] = x
        total += x
    for c in range(N_COMMODITIES):
        composition[i, node, a, c] /= total


@njit(cache=True)
def ensure_asteroids(s, i, node):
    """Draw the asteroids of `node` if this is the ship's first visit (the station has none)."""
    if node == 0:
        return
    if s.asteroids_ready[i, node]:
        return
    s.asteroids_ready[i, node] = True
    r = s.asteroid_rng
    pcg32_seed(r, i, derive_seed(s.episode_seed[i], _ASTEROID_SEED_DOMAIN, node))
    count = integers(r, i, ASTEROIDS_RANGE[0], ASTEROIDS_RANGE[1])
    s.asteroid_count[i, node] = count
    for a in range(MAX_ASTEROIDS):
        s.stabilized_until[i, node, a] = 0
        if a >= count:
            for c in range(N_COMMODITIES):
                s.composition[i, node, a, c] = 0.0
                s.composition_estimate[i, node, a, c] = 0.0
            s.richness[i, node, a] = 0.0
            s.stability[i, node, a] = 0.0
            s.stability_estimate[i, node, a] = 0.0
            s.scan_noise[i, node, a] = 0.0
            s.scan_confidence[i, node, a] = 0.0
            s.depletion[i, node, a] = 0.0
            continue
        _draw_composition(r, i, s.composition, node, a)
        s.richness[i, node, a] = clamp(
            math.exp(normal(r, i, RICHNESS_LOGNORMAL[0], RICHNESS_LOGNORMAL[1])),
            RICHNESS_CLAMP[0],
            RICHNESS_CLAMP[1],
        )
        s.stability[i, node, a] = beta_int(r, i, STABILITY_BETA[0], STABILITY_BETA[1])
        s.scan_noise[i, node, a] = uniform(r, i, ASTEROID_NOISE_RANGE[0], ASTEROID_NOISE_RANGE[1])
        _draw_composition(r, i, s.composition_estimate, node, a)
        s.stability_estimate[i, node, a] = STABILITY_ESTIMATE_START
        s.scan_confidence[i, node, a] = SCAN_CONFIDENCE_START
        s.depletion[i, node, a] = 0.0
