"""The replay file format, its reader and a text rendering: `python -m trainer.replay <file>`.

A replay is one recorded evaluation episode, `replays/replay-<window:06d>-<k:02d>.jsonl.gz`:
gzip-compressed JSON lines,

    {"kind": "header", "format_version": 1, ..., "nodes": [...], "edges": [...], "initial": <state>}
    {"step": 1, "tick": 3, "dt": 3, "action": 8, "action_name": "wide_scan", "reward": ...,
     "terminated": false, "truncated": false, "state": <state>, "events": [...]}
    ... one line per step ...
    {"kind": "end", "ended_by": "cash_out", "stats": {<EPISODE_STATS name>: value}}

`<state>` is the render state after the step: what a frontend needs to draw the game without
the env (ship node and gauges, cargo by commodity, credits, the current node's asteroids as the
player sees them, market prices). A stored state leaves out `asteroids` when they are the same
as the step before's (they are most of a frame); `read_replay` puts them back. trainer.replay_record writes replays; this module reads them
and imports neither numpy, numba nor torch, so the server can use it.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainer.rundir import replace_atomically

FORMAT_VERSION = 1


@dataclass
class Replay:
    """A replay file's header, step frames and end record."""

    header: dict[str, Any]
    frames: list[dict[str, Any]]
    end: dict[str, Any]


class ReplayFormatError(ValueError):
    """A file that is not a whole replay of a known format version."""


def encode_replay(header: dict[str, Any], frames: list[dict[str, Any]], end: dict[str, Any]) -> bytes:
    """The gzip-compressed JSON lines of a replay."""
    lines = [{"kind": "header", "format_version": FORMAT_VERSION, **header}, *frames, {"kind": "end", **end}]
    text = "".join(json.dumps(line, separators=(",", ":"), allow_nan=False) + "\n" for line in lines)
    return gzip.compress(text.encode(), compresslevel=6, mtime=0)


def write_replay(path: Path, header: dict[str, Any], frames: list[dict[str, Any]], end: dict[str, Any]) -> int:
    """Write a replay atomically (a temp file, then a rename); return its size in bytes."""
    data = encode_replay(header, frames, end)
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_atomically(path, lambda f: f.write(data), fsync=True)
    return len(data)


class ReplayLines:
    """A replay file decoded once, its frames kept as JSON lines (about 1 KB a step) and
    decoded page by page; each frame's asteroids are restored from the last frame that stored them."""

    def __init__(self, data: bytes, name: str = "replay") -> None:
        try:
            lines = gzip.decompress(data).splitlines()
            header, end = json.loads(lines[0]), json.loads(lines[-1])
        except (OSError, EOFError, IndexError, json.JSONDecodeError) as exc:
            raise ReplayFormatError(f"{name}: not a gzip JSON-lines replay ({exc})") from exc
        if len(lines) < 2 or header.get("kind") != "header" or end.get("kind") != "end":
            raise ReplayFormatError(f"{name}: a replay starts with a header line and ends with an end line")
        if header.get("format_version") != FORMAT_VERSION:
            raise ReplayFormatError(f"{name}: replay format version {header.get('format_version')!r} is not {FORMAT_VERSION}")
        self.header = header
        self.end = end
        self.lines = lines[1:-1]
        self.size = sum(map(len, self.lines))
        # the index of the frame whose stored state holds frame k's asteroids (-1: the header's)
        self._asteroids_from: list[int] = []
        last = -1
        for k, line in enumerate(self.lines):
            if b'"asteroids":' in line:
                last = k
            self._asteroids_from.append(last)

    def __len__(self) -> int:
        return len(self.lines)

    def frames(self, offset: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
        """Frames offset .. offset+limit-1 (fewer at the end), whole."""
        stop = len(self.lines) if limit is None else min(len(self.lines), offset + limit)
        frames = []
        for k in range(offset, stop):
            try:
                frame = json.loads(self.lines[k])
            except json.JSONDecodeError as exc:
                raise ReplayFormatError(f"frame {k + 1}: {exc}") from exc
            if "asteroids" not in frame["state"]:
                source = self._asteroids_from[k]
                if frames and self._asteroids_from[k - 1] == source:
                    frame["state"]["asteroids"] = frames[-1]["state"]["asteroids"]
                elif source < 0:
                    frame["state"]["asteroids"] = self.header["initial"]["asteroids"]
                else:
                    frame["state"]["asteroids"] = json.loads(self.lines[source])["state"]["asteroids"]
            frames.append(frame)
        return frames


def read_replay(path: Path) -> Replay:
    """Read and check a replay file (raises FileNotFoundError or ReplayFormatError)."""
    replay = ReplayLines(Path(path).read_bytes(), str(path))
    return Replay(replay.header, replay.frames(), replay.end)


def format_frame(frame: dict[str, Any], node_types: list[str]) -> str:
    """One step as a line: tick, node, action, cargo, credits, events."""
    state = frame["state"]
    node = state["node"]
    cargo = " ".join(f"{name}:{units:g}" for name, units in state["cargo"].items()) or "-"
    events = ", ".join(describe_event(event) for event in frame["events"])
    return (
        f"tick {frame['tick']:>6}  node {node:>2} {node_types[node]:<7}  {frame['action_name']:<22}"
        f"  cargo {cargo:<40}  credits {state['credits']:>10,.2f}" + (f"  | {events}" if events else "")
    )


def describe_event(event: dict[str, Any]) -> str:
    """An event as a few words, e.g. `sale pge 12.5 for 1,800.00`."""
    kind = event["kind"]
    if kind == "sale":
        return f"sale {event['commodity']} {event['units']:g} for {event['credits']:,.2f}"
    if kind == "purchase":
        return f"purchase {event['item']} for {event['credits']:,.2f}"
    if kind == "pirate_hit":
        return f"pirate hit (lost {event['value_lost']:,.2f} of cargo, hull -{event['hull_lost']:g})"
    if kind == "fracture":
        return f"fracture (hull -{event['hull_lost']:g})"
    if kind == "overheat":
        return f"overheat {event['ticks']} ticks"
    return kind


def format_replay(replay: Replay) -> Iterator[str]:
    """The text rendering of a replay: a title, one line per step, the ending."""
    header = replay.header
    node_types = [node["type"] for node in header["nodes"]]
    yield (
        f"replay {header['replay_id']} of run {header['run_id']} (window {header['window_id']}, seed {header['seed']}):"
        f" {len(header['nodes'])} nodes, {len(header['edges'])} edges, time max {header['time_max']} ticks"
    )
    for frame in replay.frames:
        yield format_frame(frame, node_types)
    stats = replay.end["stats"]
    yield (
        f"ended by {replay.end['ended_by']} after {len(replay.frames)} steps, {stats['ticks']:g} ticks:"
        f" net profit {stats['net_profit']:,.2f}, return {stats['return']:.3f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m trainer.replay", description="Print a recorded evaluation episode, one line per step."
    )
    parser.add_argument("replay", type=Path, help="a replay file: runs/<id>/replays/replay-<window>-<k>.jsonl.gz")
    args = parser.parse_args(argv)
    try:
        replay = read_replay(args.replay)
    except (FileNotFoundError, ReplayFormatError) as exc:
        parser.error(f"argument replay: {exc}")
    try:
        for line in format_replay(replay):
            print(line)
    except BrokenPipeError:  # `| head`
        sys.stderr.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
