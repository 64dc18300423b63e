"""What each action costs now (ticks, fuel, credits), as docs/game.md's action table states it,
and its family: for people choosing an action (the play sessions' `actions`)."""

from __future__ import annotations

from typing import Any

from trainer.env import ProspectorEnv
from trainer.env.rules import (
    A_BUY_DECOY,
    A_BUY_FUEL,
    A_BUY_KIT,
    A_BUY_STABILIZER,
    A_COOLDOWN,
    A_DEEP_SCAN,
    A_DOCK,
    A_EMERGENCY_BURN,
    A_HOLD,
    A_HULL_PATCH,
    A_OVERHAUL,
    A_REFINE,
    A_STABILIZE,
    A_THREAT_LISTEN,
    A_TOOL_MAINT,
    A_WIDE_SCAN,
    ACTION_FAMILIES,
    ACTION_NAMES,
    CARGO_MASS_FUEL_FACTOR,
    CARGO_MAX,
    DECOY_PRICE,
    DT_COOLDOWN,
    DT_DOCK,
    DT_MAINTENANCE,
    DT_OVERHAUL,
    DT_REFINE,
    DT_STABILIZE,
    DT_THREAT_LISTEN,
    FUEL_COOLDOWN,
    FUEL_EMERGENCY_BURN,
    FUEL_PACK_PRICE,
    FUEL_REFINE,
    KIT_PRICE,
    OVERHAUL_PRICE,
    SCAN_DT,
    SCAN_FUEL,
    STABILIZER_PRICE,
)

# The fixed costs; every action not listed (and not travel, a scan or a fuel pack) takes 1 tick.
_FIXED: dict[int, dict[str, float]] = {
    A_EMERGENCY_BURN: {"ticks": 1, "fuel": FUEL_EMERGENCY_BURN},
    A_THREAT_LISTEN: {"ticks": DT_THREAT_LISTEN},
    A_STABILIZE: {"ticks": DT_STABILIZE},
    A_REFINE: {"ticks": DT_REFINE, "fuel": FUEL_REFINE},
    A_COOLDOWN: {"ticks": DT_COOLDOWN, "fuel": FUEL_COOLDOWN},
    A_TOOL_MAINT: {"ticks": DT_MAINTENANCE},
    A_HULL_PATCH: {"ticks": DT_MAINTENANCE},
    A_DOCK: {"ticks": DT_DOCK},
    A_BUY_KIT: {"ticks": 1, "credits": KIT_PRICE},
    A_BUY_STABILIZER: {"ticks": 1, "credits": STABILIZER_PRICE},
    A_BUY_DECOY: {"ticks": 1, "credits": DECOY_PRICE},
    A_OVERHAUL: {"ticks": DT_OVERHAUL, "credits": OVERHAUL_PRICE},
}
FAMILY_OF = [name for name, first, last in ACTION_FAMILIES for _ in range(first, last + 1)]


def action_cost(env: ProspectorEnv, i: int, action: int) -> dict[str, float]:
    """Env i's cost of `action` now: `ticks`, and `fuel` / `credits` when it spends them; travel
    also names the node it goes `to` (its fuel grows with the cargo carried)."""
    s = env.state
    if action < A_HOLD:
        node = int(s.node[i])
        load = 1.0 + CARGO_MASS_FUEL_FACTOR * float(s.cargo[i].sum()) / CARGO_MAX
        fuel = round(float(s.edge_fuel[i, node, action]) * load, 1)
        return {"ticks": int(s.edge_time[i, node, action]), "fuel": fuel, "to": int(s.neighbor[i, node, action])}
    if A_WIDE_SCAN <= action <= A_DEEP_SCAN:
        return {"ticks": SCAN_DT[action - A_WIDE_SCAN], "fuel": SCAN_FUEL[action - A_WIDE_SCAN]}
    if A_BUY_FUEL <= action < A_BUY_KIT:
        return {"ticks": 1, "credits": FUEL_PACK_PRICE[action - A_BUY_FUEL]}
    return _FIXED.get(action, {"ticks": 1})


def valid_action_costs(env: ProspectorEnv, i: int, valid: list[int]) -> list[dict[str, Any]]:
    """The `valid` actions of env i with name, family and cost, in index order."""
    return [{"index": a, "name": ACTION_NAMES[a], "family": FAMILY_OF[a], **action_cost(env, i, a)} for a in valid]
