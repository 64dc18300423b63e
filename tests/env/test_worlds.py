"""World generation (spec 1.2 with the connected spanning tree of spec 2.8)."""

import numpy as np

from trainer.env import ProspectorEnv
from trainer.env.world import ensure_asteroids

ASTEROID_ARRAYS = ("asteroid_count", "composition", "composition_estimate", "richness", "stability", "scan_noise")


def test_10000_worlds_are_connected_symmetric_graphs_of_8_to_32_nodes():
    """Degrees are bounded by the 6 slots per node; symmetry shows no edge was stored at one end only."""
    env = ProspectorEnv(num_envs=10_000, seed=2024)
    env.reset()
    s = env.state
    n = s.n_nodes
    assert n.min() == 8 and n.max() == 32
    real = np.arange(32)[None, :] < n[:, None]  # (N, 32): the nodes of each world
    assert (s.hops[real] < 31).all(), "a node the station cannot reach"

    env_ids = np.arange(len(n))[:, None, None]
    nodes = np.arange(32)[None, :, None]
    v = s.neighbor
    linked = v >= 0
    assert not linked[~real].any(), "an edge at a node beyond the world"
    assert (v[linked] < np.broadcast_to(n[:, None, None], v.shape)[linked]).all()
    assert not (v == nodes).any(), "a self-loop"
    sorted_slots = np.sort(np.where(linked, v, -1 - np.arange(6)), axis=2)
    assert not (np.diff(sorted_slots, axis=2) == 0).any(), "a doubled edge"
    # every edge is stored at both ends with the same time, fuel and threat
    back = s.neighbor[env_ids, np.clip(v, 0, None)]  # (N, 32, 6, 6): the far end's slots
    back_slot = np.argmax(back == nodes[..., None], axis=3)
    far = (env_ids, np.clip(v, 0, None), back_slot)
    assert (back == nodes[..., None]).any(axis=3)[linked].all()
    for name in ("edge_time", "edge_fuel", "edge_threat"):
        array = getattr(s, name)
        np.testing.assert_array_equal(array[far][linked], array[linked], err_msg=name)
    # hops are BFS distances: the station is 0, every other node is one more than its nearest neighbour
    neighbour_hops = np.where(linked, s.hops[env_ids, np.clip(v, 0, None)], 99).min(axis=2)
    assert (s.hops[:, 0] == 0).all()
    np.testing.assert_array_equal(s.hops[:, 1:][real[:, 1:]], neighbour_hops[:, 1:][real[:, 1:]] + 1)


def test_a_nodes_asteroids_depend_on_the_episode_seed_and_node_not_on_the_visit_order():
    env = ProspectorEnv(num_envs=2, seed=0, autoreset=False)
    env.start_episodes(np.array([77, 77], dtype=np.uint64))
    n = int(env.state.n_nodes[0])
    for node in range(1, n):
        ensure_asteroids(env.state, 0, node)
    for node in range(n - 1, 0, -1):
        ensure_asteroids(env.state, 1, node)
    for name in ASTEROID_ARRAYS:
        np.testing.assert_array_equal(getattr(env.state, name)[0], getattr(env.state, name)[1], err_msg=name)
    assert (env.state.asteroid_count[0, 1:n] >= 5).all() and (env.state.asteroid_count[0, 1:n] <= 16).all()
