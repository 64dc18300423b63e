"""The play worker: `python -m trainer.play` hosts the service's play sessions, one single-env
game each, behind JSON lines on stdin/stdout (one request, one response, in order).

    {"op": "start", "sid": "...", "seed": 7, "time_max": 20000}  -> the session's view
    {"op": "step", "sid": "...", "action": 8}                    -> the view after the step
    {"op": "agent", "sid": "...", "checkpoint": "/abs/ckpt.pt", "mode": "argmax", "steps": 1}
    {"op": "reset", "sid": "..."}, {"op": "close", "sid": "..."}
    response: {"ok": true, "result": {...}} or {"ok": false, "error": "..."}

It runs apart from the server because the env needs numba (and an agent torch), which the
server process never imports. Games use the `scouted` observation (its first 260 values are the
spec's), so a policy trained on either can act in them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from trainer.action_costs import valid_action_costs
from trainer.env import ProspectorEnv
from trainer.env.rules import ACTION_NAMES, COMMODITY_NAMES
from trainer.replay_record import EventCounters, render_state, step_events, world_graph


class PlaySession:
    """One game a person plays (or lets a policy play) step by step; `reset()` starts it."""

    def __init__(self, seed: int, time_max: int) -> None:
        self.seed = seed
        self.env = ProspectorEnv(num_envs=1, time_max=time_max, autoreset=False, observation="scouted")

    def reset(self) -> dict[str, Any]:
        """Start the game from its seed: the first view, with the world graph (`world`)."""
        self.env.start_episodes(np.array([self.seed], dtype=np.uint64))
        self.counters = EventCounters.of(self.env, 0)
        nodes, edges = world_graph(self.env, 0)
        return {**self.view(reward=0.0, events=[]), "world": {"nodes": nodes, "edges": edges, "commodities": list(COMMODITY_NAMES)}}

    def step(self, action: int) -> dict[str, Any]:
        if self.env.state.done[0]:
            raise ValueError("the episode is over: reset the session")
        if not (0 <= action < len(ACTION_NAMES) and self.env.action_mask[0, action]):
            raise ValueError(f"action {action} is not valid now")
        self.env.step(np.array([action], dtype=np.int32))
        after = EventCounters.of(self.env, 0)
        events = step_events(self.counters, after, action, True)
        self.counters = after
        return self.view(reward=float(self.env.rewards[0]), events=events, action=action)

    def view(self, reward: float, events: list[dict[str, Any]], action: int | None = None) -> dict[str, Any]:
        """What a client sees after a start, reset or step."""
        env = self.env
        valid = [int(a) for a in np.flatnonzero(env.action_mask[0])]
        return {
            "seed": self.seed,
            "tick": int(env.state.ticks[0]),
            "action": action,
            "action_name": None if action is None else ACTION_NAMES[action],
            "reward": reward,
            "terminated": bool(env.terminals[0]),
            "truncated": bool(env.truncations[0]),
            "done": bool(env.state.done[0]),
            "events": events,
            "observation": [round(float(x), 6) for x in env.observations[0]],
            "valid_actions": valid,
            "actions": valid_action_costs(env, 0, valid),
            "state": render_state(env, 0),
        }


class PlayWorker:
    """The sessions of one worker process, by id."""

    def __init__(self) -> None:
        self.sessions: dict[str, PlaySession] = {}

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op, sid = request["op"], request["sid"]
        if op == "start":
            self.sessions[sid] = PlaySession(int(request["seed"]), int(request["time_max"]))
            return self.sessions[sid].reset()
        if op == "close":
            self.sessions.pop(sid, None)
            return {}
        session = self.sessions.get(sid)
        if session is None:
            raise KeyError(f"no session {sid}")
        if op == "reset":
            return session.reset()
        if op == "step":
            return session.step(int(request["action"]))
        if op == "agent":
            return self.agent(session, Path(request["checkpoint"]), request["mode"], int(request["steps"]))
        raise ValueError(f"unknown op {op!r}")

    def agent(self, session: PlaySession, checkpoint: Path, mode: str, steps: int) -> dict[str, Any]:
        """Let the checkpoint's policy take up to `steps` steps (fewer if the episode ends)."""
        from trainer.evaluate import checkpoint_act  # torch: only when a policy plays

        make_act, _, _ = checkpoint_act(checkpoint, mode, session.seed)
        act = make_act(1)
        views: list[dict[str, Any]] = []
        for _ in range(steps):
            if session.env.state.done[0]:
                break
            views.append(session.step(int(act(session.env)[0])))
        if not views:
            raise ValueError("the episode is over: reset the session")
        last = views[-1]
        last["steps"] = [{key: view[key] for key in ("tick", "action", "action_name", "reward", "events")} for view in views]
        return last


def main() -> int:
    worker = PlayWorker()
    for line in sys.stdin:
        try:
            response = {"ok": True, "result": worker.handle(json.loads(line))}
        except (KeyError, ValueError, OSError) as exc:
            response = {"ok": False, "error": str(exc).strip("'\"")}
        sys.stdout.write(json.dumps(response, allow_nan=False) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
