"""Replay and play benchmarks: replay size per 1,000 steps and write time, the frames
endpoint's latency over a 20,000-step replay, and play-session step latency over HTTP.

`python -m bench.replays` runs these alone.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.service import make_run, _percentile, serving
from trainer.env import ProspectorEnv, RewardSpec
from trainer.env.rules import A_CASH_OUT, A_HOLD
from trainer.evaluate import ActFn, baseline_act
from trainer.replay import write_replay
from trainer.replay_index import ReplayIndex, write_replay_index
from trainer.replay_record import RecordedEpisode, record_episodes
from trainer.rundir import ReplayEntry, RunStatus, utc_now

TIME_MAX = 20_000
FRAME_PAGE = 500
PLAY_STEPS = 500


def _hold_act(n: int) -> ActFn:
    """Hold whenever allowed: 20,000 one-tick steps, the longest episode there is."""

    def act(env: ProspectorEnv) -> np.ndarray:
        mask = env.action_mask
        return np.where(mask[:, A_HOLD], A_HOLD, mask.argmax(1)).astype(np.int32)

    return act


def _recorded(name: str, make_act: Callable[[int], ActFn]) -> tuple[RecordedEpisode, dict[str, Any]]:
    start = time.perf_counter()
    [episode] = record_episodes(make_act, 1, 5, TIME_MAX, RewardSpec(), "spec", {"run_id": "bench", "window_id": 0})
    recorded = time.perf_counter() - start
    return episode, {"policy": name, "steps": len(episode.frames), "ticks": episode.stats["ticks"], "record_s": round(recorded, 3)}


def bench_replay_size(work: Path) -> list[dict[str, Any]]:
    results = []
    for name, make_act in [("prospector", baseline_act("prospector", 0)), ("hold", _hold_act)]:
        episode, figures = _recorded(name, make_act)
        start = time.perf_counter()
        size = write_replay(work / f"{name}.jsonl.gz", episode.header, episode.frames, episode.end())
        figures.update(
            bytes=size, bytes_per_1000_steps=round(1000 * size / len(episode.frames)), write_s=round(time.perf_counter() - start, 3)
        )
        results.append(figures)
    return results


def bench_frames_endpoint(work: Path) -> dict[str, Any]:
    """Page through a 20,000-step replay: the first page (decodes the file) and the others."""
    runs_root = work / "runs"
    paths = make_run(runs_root, "replays", RunStatus.completed)
    episode, _ = _recorded("hold", _hold_act)
    episode.header["replay_id"] = "000000-00"
    write_replay(paths.replay("000000-00"), episode.header, episode.frames, episode.end())
    entry = ReplayEntry(
        run_id="replays", window_id=0, replay_id="000000-00", path="replays/replay-000000-00.jsonl.gz",
        checkpoint_path="checkpoints/ckpt_000000.pt", seed=5, tags=["every_window"], return_=0.0, net_profit=0.0,
        survival=True, steps=len(episode.frames), ticks=int(episode.stats["ticks"]), ended_by=episode.ended_by,
        created_at=utc_now(),
    )  # fmt: skip
    write_replay_index(paths, ReplayIndex(run_id="replays", replays=[entry]))
    latencies = []
    with serving(runs_root, work / "server-frames.log") as server, server.client(timeout=60) as client:
        for offset in range(0, len(episode.frames), FRAME_PAGE):
            start = time.perf_counter()
            response = client.get("/runs/replays/replays/000000-00/frames", params={"offset": offset, "limit": FRAME_PAGE})
            latencies.append(time.perf_counter() - start)
            response.raise_for_status()
    rest = latencies[1:]
    return {
        "frames": len(episode.frames),
        "page": FRAME_PAGE,
        "first_page_ms": round(1000 * latencies[0], 1),
        "page_p50_ms": round(1000 * _percentile(rest, 0.5), 1),
        "page_p99_ms": round(1000 * _percentile(rest, 0.99), 1),
    }


def bench_play_steps(work: Path) -> dict[str, Any]:
    latencies = []
    with serving(work / "play-runs", work / "server-play.log") as server, server.client(timeout=60) as client:
        view = client.post("/play", json={"seed": 5}).json()
        sid = view["session_id"]
        for k in range(PLAY_STEPS):
            valid = [a for a in view["valid_actions"] if a != A_CASH_OUT] or view["valid_actions"]
            start = time.perf_counter()
            response = client.post(f"/play/{sid}/step", json={"action": valid[k % len(valid)]})
            latencies.append(time.perf_counter() - start)
            view = response.json()
            if view["done"]:
                view = client.post(f"/play/{sid}/reset").json()
    return {
        "steps": PLAY_STEPS,
        "p50_ms": round(1000 * _percentile(latencies, 0.5), 2),
        "p99_ms": round(1000 * _percentile(latencies, 0.99), 2),
    }


def bench_replays() -> None:
    """Print the replay and play figures (one JSON line each)."""
    with tempfile.TemporaryDirectory(prefix="bench-replays-") as tmp:
        work = Path(tmp)
        for figures in bench_replay_size(work):
            print(json.dumps({"replays": "size", **figures}), flush=True)
        print(json.dumps({"replays": "frames_endpoint", **bench_frames_endpoint(work)}), flush=True)
        print(json.dumps({"replays": "play_steps", **bench_play_steps(work)}), flush=True)


if __name__ == "__main__":
    bench_replays()
