"""Scripted policies: uniform random over valid actions, and two scripted prospectors.

All are compiled and act on a whole batch at once. They are the baselines PPO is measured
against, and the random one drives the `random` trainer backend. The two prospectors run the
same script with different settings: `GreedyPolicy` (mine the best asteroid, mode by heat
and wear, home at 1,000 credits of cargo, stop once a trip earns under 300) and the tuned
`ProspectorPolicy` (always conservative mining, home at 1,500, stop under 100).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from trainer.env.batched import ProspectorEnv
from trainer.env.observation import cargo_total, cargo_value, estimated_asteroid_value, has_valid_selection
from trainer.env.rng import derive_seed, integers, pcg32_seed
from trainer.env.rules import *  # noqa: F403 (the rule constants, compile-time in numba)

_POLICY_SEED_DOMAIN = np.int64(0xAC7)  # numpy: see rng.derive_seed


@njit(cache=True)
def _seed_streams(rng, seed):
    for i in range(rng.shape[0]):
        pcg32_seed(rng, i, derive_seed(seed, i, _POLICY_SEED_DOMAIN))


@njit(cache=True, nogil=True)
def sample_valid_actions(action_mask, rng, out):
    """out[i] = an action drawn uniformly from the valid actions of env i (stream rng[i]): the
    k-th valid one for k drawn in [0, count). Without branches on the mask: a mask the branch
    predictor cannot learn (the env bench's bound writes random bits) cost ~3x as much."""
    for i in range(action_mask.shape[0]):
        count = 0
        for a in range(N_ACTIONS):
            count += action_mask[i, a]
        k = integers(rng, i, 0, count)
        seen = 0
        before = 0  # actions before the (k+1)-th valid one
        for a in range(N_ACTIONS):
            seen += action_mask[i, a]
            before += seen <= k
        out[i] = before


class RandomValidPolicy:
    """Uniformly random valid actions, one independent deterministic stream per env."""

    def __init__(self, num_envs: int, seed: int) -> None:
        self._rng = np.zeros(num_envs, dtype=np.uint64)
        self._actions = np.zeros(num_envs, dtype=np.int32)
        _seed_streams(self._rng, np.uint64(seed))

    def act(self, action_mask: np.ndarray, rows: slice = slice(None)) -> np.ndarray:
        """Actions for every env, or for the envs `rows` (whose masks `action_mask` then holds),
        each from its own stream (a reused array: copy it to keep it past the next call)."""
        sample_valid_actions(action_mask, self._rng[rows], self._actions[rows])
        return self._actions[rows]

    def get_state(self) -> np.ndarray:
        return self._rng.copy()

    def set_state(self, state: np.ndarray) -> None:
        self._rng[:] = state


# Scripted prospector thresholds (those that differ between the two players are arguments)
_HAUL_FRAC = 0.9  # ... or once it is this full
_HOME_HULL = 40.0
_FUEL_PER_HOP = 170.0  # a conservative bound on one edge's fuel with a full hold
_FUEL_RESERVE = 60.0
_TICKS_PER_HOP = 9
_TIME_RESERVE = 40
_COOL_HEAT = 70.0
_CALM_ALERT = 12.0
_REPAIR_TOOL = 30.0
_PATCH_HULL = 50.0
_STATION_FUEL = 850.0
_STATION_REFIT = 80.0
_STATION_ALERT = 10.0
_CAREFUL_HEAT = 50.0
_CAREFUL_TOOL = 60.0
_CAREFUL_STABILITY = 0.55
_SPENT_DEPLETION = 0.85


@njit(cache=True)
def _best_asteroid(s, i, node):
    best, best_value = -1, 0.0
    for a in range(s.asteroid_count[i, node]):
        if s.depletion[i, node, a] >= _SPENT_DEPLETION:
            continue
        value = estimated_asteroid_value(s, i, node, a)
        if value > best_value:
            best, best_value = a, value
    return best


@njit(cache=True)
def _slot_toward_station(s, i, node):
    """The neighbour slot that gets closer to the station, least threatening first."""
    best, best_threat = -1, 2.0
    here = s.hops[i, node]
    for k in range(MAX_NEIGHBORS):
        v = s.neighbor[i, node, k]
        if v < 0:
            continue
        closer = s.hops[i, v] < here
        threat = s.threat_estimate[i, node, k]
        if closer and threat < best_threat:
            best, best_threat = k, threat
    return best


@njit(cache=True)
def _slot_to_explore(s, i, node):
    """A neighbour to mine at: near the station, not a hazard, not known to be spent."""
    best, best_score = -1, 1e9
    for k in range(MAX_NEIGHBORS):
        v = s.neighbor[i, node, k]
        if v <= 0:
            continue
        score = s.threat_estimate[i, node, k] + s.hops[i, v]
        if s.node_type[i, v] == HAZARD:
            score += 2.0
        if s.asteroids_ready[i, v]:
            if _best_asteroid(s, i, v) < 0:
                score += 5.0
        if score < best_score:
            best, best_score = k, score
    return best


@njit(cache=True)
def _cheapest_fuel_pack(credits):
    for p in range(2, -1, -1):
        if credits >= FUEL_PACK_PRICE[p]:
            return p
    return -1


@njit(cache=True)
def _station_action(s, i, time_is_up, trip, min_trip_profit):
    """Sell everything, judge the trip once (cash out if it earned under `min_trip_profit`:
    the nearby asteroids are spent), then refit and leave; cash out when time is nearly up.

    trip[i] = (credits at departure, 1.0 once this visit's trip was judged).
    """
    for c in range(N_COMMODITIES):
        if s.cargo[i, c] > 0.0:
            return A_SELL + 3 * c + 2
    credits = s.credits[i]
    if s.ticks[i] == 0:  # a new episode: no trip to judge yet
        trip[i, 0] = credits
        trip[i, 1] = 1.0
    if time_is_up:
        return A_CASH_OUT
    if trip[i, 1] == 0.0:
        trip[i, 1] = 1.0
        if credits - trip[i, 0] < min_trip_profit:
            return A_CASH_OUT
    if s.alert[i] > _STATION_ALERT:
        return A_DOCK
    worn = min(s.hull[i], s.tool[i]) < _STATION_REFIT
    if worn and credits >= OVERHAUL_PRICE + FUEL_PACK_PRICE[2]:
        return A_OVERHAUL
    if s.fuel[i] < _STATION_FUEL:
        p = _cheapest_fuel_pack(credits)
        if p >= 0:
            return A_BUY_FUEL + p
    k = _slot_to_explore(s, i, s.node[i])  # the station
    if k < 0:
        return A_CASH_OUT
    trip[i, 0] = credits
    trip[i, 1] = 0.0
    return A_TRAVEL + k


@njit(cache=True)
def prospector_action(s, i, trip, haul_value, min_trip_profit, always_careful):
    """A scripted prospector's action for env i, read from the env state.

    It sees what a player sees (estimates, not true compositions) plus the map's hop counts.
    """
    node = s.node[i]
    hops = s.hops[i, node]
    time_is_up = s.time_remaining[i] < hops * _TICKS_PER_HOP + _TIME_RESERVE
    if node == 0:
        return _station_action(s, i, time_is_up, trip, min_trip_profit)

    kits, hull, heat, tool = s.kits[i], s.hull[i], s.heat[i], s.tool[i]
    if kits > 0 and hull < _PATCH_HULL:
        return A_HULL_PATCH
    hold_value, hold_total = cargo_value(s, i), cargo_total(s, i)
    haul_done = hold_value >= haul_value or hold_total >= _HAUL_FRAC * CARGO_MAX
    low_fuel = s.fuel[i] < hops * _FUEL_PER_HOP + _FUEL_RESERVE
    if time_is_up or haul_done or low_fuel or hull < _HOME_HULL:
        k = _slot_toward_station(s, i, node)
        if k >= 0:
            return A_TRAVEL + k
    if heat > _COOL_HEAT:
        return A_COOLDOWN
    if s.alert[i] > _CALM_ALERT:
        return A_HOLD
    if kits > 0 and tool < _REPAIR_TOOL:
        return A_TOOL_MAINT

    count = s.asteroid_count[i, node]
    unscanned = s.scan_confidence[i, node, 0] <= SCAN_CONFIDENCE_START
    if count > 0 and unscanned:
        return A_WIDE_SCAN
    a = s.selected[i]
    if has_valid_selection(s, i):
        if s.depletion[i, node, a] < _SPENT_DEPLETION:
            shaky = s.stability_estimate[i, node, a] < _CAREFUL_STABILITY
            careful = always_careful or heat > _CAREFUL_HEAT or tool < _CAREFUL_TOOL or shaky
            return A_MINE if careful else A_MINE + 1
    best = _best_asteroid(s, i, node)
    if best >= 0:
        return A_SELECT + best
    k = _slot_to_explore(s, i, node)
    if k < 0:
        k = _slot_toward_station(s, i, node)
    return A_TRAVEL + k if k >= 0 else A_CASH_OUT


@njit(cache=True)
def prospector_actions(s, trip, haul_value, min_trip_profit, always_careful, out):
    for i in range(out.shape[0]):
        out[i] = prospector_action(s, i, trip, haul_value, min_trip_profit, always_careful)


class ScriptedProspector:
    """A scripted prospector: scan, mine the most valuable asteroid it knows, go home to sell
    when the hold is worth `haul_value` credits (or is nearly full, or the ship is at risk),
    refit, and cash out when a trip earned under `min_trip_profit` or time runs out.
    Mining is conservative when hot, worn or unstable, or always with `always_careful`."""

    haul_value = 1000.0
    min_trip_profit = 300.0
    always_careful = False

    def __init__(self, num_envs: int) -> None:
        self._actions = np.zeros(num_envs, dtype=np.int32)
        self._trip = np.zeros((num_envs, 2))

    def act(self, env: ProspectorEnv) -> np.ndarray:
        """Actions for every env of `env` (a reused array)."""
        prospector_actions(
            env.kernel_state, self._trip, self.haul_value, self.min_trip_profit, self.always_careful, self._actions
        )
        return self._actions


class GreedyPolicy(ScriptedProspector):
    """The greedy baseline: standard mining unless hot, worn or the asteroid looks unstable;
    home at 1,000 credits of cargo; stops once a trip earns under 300 credits."""


class ProspectorPolicy(ScriptedProspector):
    """The tuned scripted player: always conservative mining, home at 1,500 credits of cargo,
    stops once a trip earns under 100 credits."""

    haul_value = 1500.0
    min_trip_profit = 100.0
    always_careful = True
