"""The state of a batch of envs: flat, preallocated arrays with one leading row per env.

Compiled kernels take an `EnvState` (a namedtuple of arrays) and touch only the rows of the
envs they step; nothing is allocated per step.
"""

from typing import NamedTuple

import numpy as np

from trainer.env.rules import MAX_ASTEROIDS, MAX_NEIGHBORS, MAX_NODES, N_COMMODITIES

_F, _I, _U, _B = np.float64, np.int64, np.uint64, np.bool_
_ONE: tuple[int, ...] = ()
_GOODS = (N_COMMODITIES,)
_NODES = (MAX_NODES,)
_EDGES = (MAX_NODES, MAX_NEIGHBORS)
_ROCKS = (MAX_NODES, MAX_ASTEROIDS)
_ROCK_GOODS = (MAX_NODES, MAX_ASTEROIDS, N_COMMODITIES)

# name, per-env shape, dtype
STATE_LAYOUT = (
    # random streams: the game's, and the one a node's asteroids are drawn from on first visit
    ("rng", _ONE, _U),
    ("asteroid_rng", _ONE, _U),
    ("episode_seed", _ONE, _U),
    ("base_seed", _ONE, _U),  # key of this env's episode-seed sequence
    ("episode_index", _ONE, _I),  # episodes started since the last seeded reset
    ("done", _ONE, _B),  # the episode ended and (without auto-reset) awaits a reset
    # ship
    ("fuel", _ONE, _F),
    ("hull", _ONE, _F),
    ("heat", _ONE, _F),
    ("tool", _ONE, _F),
    ("alert", _ONE, _F),
    ("credits", _ONE, _F),
    ("cargo", _GOODS, _F),
    ("kits", _ONE, _I),
    ("stabilizers", _ONE, _I),
    ("decoys", _ONE, _I),
    ("node", _ONE, _I),  # 0 = station
    ("selected", _ONE, _I),  # asteroid slot, -1 = none
    ("time_remaining", _ONE, _I),
    ("ticks", _ONE, _I),
    ("escape_until", _ONE, _I),  # the escape buff is active while ticks < escape_until
    ("stabilized_until", _ROCKS, _I),  # likewise, per (node, asteroid slot)
    # world graph
    ("n_nodes", _ONE, _I),
    ("node_type", _NODES, _I),
    ("hazard", _NODES, _F),
    ("pirate", _NODES, _F),
    ("hops", _NODES, _I),  # BFS hops to the station
    ("neighbor", _EDGES, _I),  # -1 = empty slot
    ("edge_time", _EDGES, _I),
    ("edge_fuel", _EDGES, _F),
    ("edge_threat", _EDGES, _F),  # the truth
    ("threat_estimate", _EDGES, _F),
    # asteroids (generated per node on the first visit)
    ("asteroids_ready", _NODES, _B),
    ("asteroid_count", _NODES, _I),  # slots 0..count-1 hold asteroids
    ("composition", _ROCK_GOODS, _F),  # the truth
    ("composition_estimate", _ROCK_GOODS, _F),
    ("richness", _ROCKS, _F),
    ("stability", _ROCKS, _F),  # the truth
    ("stability_estimate", _ROCKS, _F),
    ("scan_noise", _ROCKS, _F),
    ("scan_confidence", _ROCKS, _F),
    ("depletion", _ROCKS, _F),
    # market
    ("price", _GOODS, _F),
    ("prev_price", _GOODS, _F),
    ("inventory", _GOODS, _F),
    ("recent_sales", _GOODS, _F),
    ("price_phase", _GOODS, _F),
    ("price_period", _GOODS, _F),
    ("price_amplitude", _GOODS, _F),
    # episode accumulators
    ("episode_return", _ONE, _F),
    ("episode_length", _ONE, _I),
    ("overheat_ticks", _ONE, _I),
    ("pirate_encounters", _ONE, _I),
    ("value_lost_to_pirates", _ONE, _F),
    ("scan_count", _ONE, _I),
    ("mining_ticks", _ONE, _I),
    ("invalid_count", _ONE, _I),
    ("cargo_utilization_sum", _ONE, _F),  # dt-weighted
)

EnvState = NamedTuple("EnvState", [(name, np.ndarray) for name, _, _ in STATE_LAYOUT])


def allocate_state(num_envs: int) -> EnvState:
    """Zeroed state arrays for `num_envs` envs."""
    return EnvState(
        *(np.zeros((num_envs, *shape), dtype=dtype) for _, shape, dtype in STATE_LAYOUT)
    )
