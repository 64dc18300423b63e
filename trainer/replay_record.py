"""Recording evaluation episodes as replays (the format is trainer.replay's).

`ReplayObserver` watches trainer.evaluate.run_episodes play a batch and keeps, per episode, the
world graph at the start and a frame per step: the action, its reward and cost, the render
state after it, and the events the step caused, found from the state's changes (the kernels
report none). `record_episodes` plays and records held-out evaluation episodes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trainer.env import EPISODE_STATS, ProspectorEnv, RewardSpec
from trainer.env.rules import (
    A_BUY_DECOY,
    A_BUY_FUEL,
    A_BUY_KIT,
    A_BUY_STABILIZER,
    A_OVERHAUL,
    A_SELL,
    ACTION_NAMES,
    COMMODITY_NAMES,
    NODE_TYPE_NAMES,
    SELL_FRACTIONS,
)
from trainer.evaluate import ActFn, run_episodes

PURCHASES = {
    **{A_BUY_FUEL + k: f"fuel_{size}" for k, size in enumerate(("small", "medium", "large"))},
    A_BUY_KIT: "kit",
    A_BUY_STABILIZER: "stabilizer",
    A_BUY_DECOY: "decoy",
    A_OVERHAUL: "overhaul",
}
SALES = range(A_SELL, A_SELL + len(COMMODITY_NAMES) * len(SELL_FRACTIONS))


@dataclass
class RecordedEpisode:
    """One episode's replay content (see trainer.replay) and its EPISODE_STATS row."""

    header: dict[str, Any]
    frames: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, float] = field(default_factory=dict)

    @property
    def ended_by(self) -> str:
        for ending in ("destroyed", "stranded", "cash_out"):
            if self.stats[ending]:
                return ending
        return "time_limit"

    def end(self) -> dict[str, Any]:
        return {"ended_by": self.ended_by, "stats": self.stats}


def _r(value: float, digits: int = 2) -> float:
    return round(float(value), digits)


def world_graph(env: ProspectorEnv, i: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Env i's nodes (type, hops to the station, a drawing position) and edges (time, fuel,
    true threat), each edge once. Positions: rings around the station by hop count, spread
    evenly on each ring."""
    s = env.state
    n = int(s.n_nodes[i])
    hops = [int(h) for h in s.hops[i, :n]]
    rings: dict[int, list[int]] = {}
    for node in range(n):
        rings.setdefault(hops[node], []).append(node)
    nodes = []
    for node in range(n):
        ring = rings[hops[node]]
        angle = 2 * math.pi * ring.index(node) / len(ring) + 0.5 * hops[node]
        nodes.append(
            {
                "id": node,
                "type": NODE_TYPE_NAMES[int(s.node_type[i, node])],
                "hops": hops[node],
                "x": _r(hops[node] * math.cos(angle), 3),
                "y": _r(hops[node] * math.sin(angle), 3),
            }
        )
    edges = []
    for u in range(n):
        for k, v in enumerate(s.neighbor[i, u]):
            if u < v:
                edges.append(
                    {
                        "from": u,
                        "to": int(v),
                        "time": int(s.edge_time[i, u, k]),
                        "fuel": _r(s.edge_fuel[i, u, k]),
                        "threat": _r(s.edge_threat[i, u, k], 3),
                    }
                )
    return nodes, edges


def render_state(env: ProspectorEnv, i: int) -> dict[str, Any]:
    """What a frontend draws of env i now; asteroids and prices as the player sees them."""
    s = env.state
    node = int(s.node[i])
    asteroids = []
    if s.asteroids_ready[i, node]:
        for a in range(int(s.asteroid_count[i, node])):
            asteroids.append(
                {
                    "slot": a,
                    "composition": [_r(x, 3) for x in s.composition_estimate[i, node, a]],
                    "stability": _r(s.stability_estimate[i, node, a], 3),
                    "depletion": _r(s.depletion[i, node, a], 3),
                    "confidence": _r(s.scan_confidence[i, node, a], 3),
                }
            )
    return {
        "node": node,
        "fuel": _r(s.fuel[i]),
        "hull": _r(s.hull[i]),
        "heat": _r(s.heat[i]),
        "tool": _r(s.tool[i]),
        "alert": _r(s.alert[i]),
        "cargo": {name: _r(units) for name, units in zip(COMMODITY_NAMES, s.cargo[i]) if units > 0},
        "credits": _r(s.credits[i]),
        "net_profit": _r(s.credits[i]),  # credits start at 0
        "kits": int(s.kits[i]),
        "stabilizers": int(s.stabilizers[i]),
        "decoys": int(s.decoys[i]),
        "selected": int(s.selected[i]),
        "asteroids": asteroids,
        "prices": [_r(p) for p in s.price[i]],
    }


@dataclass
class EventCounters:
    """The state an env's events are found from (its values before the step)."""

    credits: float
    hull: float
    cargo: np.ndarray
    hazard: float
    node: int
    pirate_encounters: int
    value_lost: float
    overheat_ticks: int

    @classmethod
    def of(cls, env: ProspectorEnv, i: int) -> EventCounters:
        s = env.state
        node = int(s.node[i])
        return cls(
            credits=float(s.credits[i]),
            hull=float(s.hull[i]),
            cargo=s.cargo[i].copy(),
            hazard=float(s.hazard[i, node]),
            node=node,
            pirate_encounters=int(s.pirate_encounters[i]),
            value_lost=float(s.value_lost_to_pirates[i]),
            overheat_ticks=int(s.overheat_ticks[i]),
        )


def step_events(before: EventCounters, after: EventCounters, action: int, valid: bool) -> list[dict[str, Any]]:
    """The events of one step, from the state before and after it."""
    events: list[dict[str, Any]] = []
    if after.pirate_encounters > before.pirate_encounters:
        events.append(
            {
                "kind": "pirate_hit",
                "value_lost": _r(after.value_lost - before.value_lost),
                "hull_lost": _r(max(0.0, before.hull - after.hull)),
            }
        )
    if after.node == before.node and after.hazard > before.hazard:  # only a fracture raises a node's hazard
        events.append({"kind": "fracture", "hull_lost": _r(max(0.0, before.hull - after.hull))})
    if valid and action in SALES and after.credits > before.credits:
        c = (action - A_SELL) // len(SELL_FRACTIONS)
        events.append(
            {
                "kind": "sale",
                "commodity": COMMODITY_NAMES[c],
                "units": _r(before.cargo[c] - after.cargo[c]),
                "credits": _r(after.credits - before.credits),
            }
        )
    if valid and action in PURCHASES and after.credits < before.credits:
        events.append({"kind": "purchase", "item": PURCHASES[action], "credits": _r(before.credits - after.credits)})
    if after.overheat_ticks > before.overheat_ticks:
        events.append({"kind": "overheat", "ticks": after.overheat_ticks - before.overheat_ticks})
    return events


class ReplayObserver:
    """Records every episode run_episodes plays (see its `observer`), in order."""

    def __init__(self, header: dict[str, Any]) -> None:
        self._header = header
        self.episodes: list[RecordedEpisode] = []
        self._batch: list[RecordedEpisode] = []
        self._counters: list[EventCounters] = []
        self._asteroids: list[list[dict[str, Any]]] = []

    def start(self, env: ProspectorEnv, seeds: np.ndarray) -> None:
        """A batch of episodes seeded `seeds` has started in `env`."""
        self._batch = []
        for i, seed in enumerate(seeds):
            nodes, edges = world_graph(env, i)
            header = {
                **self._header,
                "seed": int(seed),
                "time_max": env.time_max,
                "commodities": list(COMMODITY_NAMES),
                "nodes": nodes,
                "edges": edges,
                "initial": render_state(env, i),
            }
            self._batch.append(RecordedEpisode(header))
        self._counters = [EventCounters.of(env, i) for i in range(len(seeds))]
        self._asteroids = [episode.header["initial"]["asteroids"] for episode in self._batch]

    def step(self, env: ProspectorEnv, actions: np.ndarray, active: np.ndarray) -> None:
        """`env` has stepped `actions`; `active` marks the envs whose episode was still running."""
        for i in np.flatnonzero(active):
            episode, action = self._batch[i], int(actions[i])
            after = EventCounters.of(env, i)
            valid = not env.invalid_actions[i]
            state = render_state(env, i)
            if state["asteroids"] == self._asteroids[i]:
                del state["asteroids"]  # unchanged: the reader carries the previous list forward
            else:
                self._asteroids[i] = state["asteroids"]
            episode.frames.append(
                {
                    "step": len(episode.frames) + 1,
                    "tick": int(env.state.ticks[i]),
                    "dt": int(env.step_ticks[i]),
                    "action": action,
                    "action_name": ACTION_NAMES[action] if 0 <= action < len(ACTION_NAMES) else "invalid",
                    "valid": bool(valid),
                    "reward": _r(env.rewards[i], 6),
                    "terminated": bool(env.terminals[i]),
                    "truncated": bool(env.truncations[i]),
                    "state": state,
                    "events": step_events(self._counters[i], after, action, valid),
                }
            )
            self._counters[i] = after

    def finish(self, env: ProspectorEnv) -> None:
        """The batch has ended: keep its episodes with their statistics."""
        for i, episode in enumerate(self._batch):
            episode.stats = {name: float(v) for name, v in zip(EPISODE_STATS, env.episode_stats[i])}
        self.episodes.extend(self._batch)


def record_episodes(
    make_act: Callable[[int], ActFn],
    episodes: int,
    seed: int,
    time_max: int,
    reward: RewardSpec,
    observation: str,
    header: dict[str, Any],
) -> list[RecordedEpisode]:
    """Play the first `episodes` evaluation episodes of `seed` (as trainer.evaluate does) and
    record them; `header` is added to each replay's header (run and window ids...)."""
    observer = ReplayObserver(header)
    run_episodes(make_act, episodes, seed, time_max, reward, observation, observer=observer)
    return observer.episodes
