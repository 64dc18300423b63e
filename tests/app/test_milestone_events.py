"""Milestone and replay events: published once by the follower, resumable by their SSE ids,
and `GET /runs?milestone=` filtering."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from app.follower import EventKind, WindowFollower
from tests.serving import Server
from tests.support import (
    SHORT,
    drain,
    file_windows,
    follow,
    hand_made_run,
    in_process_client,
    running_run,
    sse_events,
    window_ids,
)
from trainer.replay_index import ReplayIndex, write_replay_index
from trainer.rundir import JsonlAppender, MilestoneReached, ReplayEntry, RunStatus, update_status, utc_now


def milestone(window_id: int, metric: str = "net_profit_mean", threshold: float = 1000.0) -> MilestoneReached:
    return MilestoneReached(
        metric=metric, threshold=threshold, window_id=window_id, env_steps=2000 * (window_id + 1), value=threshold + 1,
        time=utc_now(),
    )  # fmt: skip


def replay_entry(window_id: int) -> ReplayEntry:
    return ReplayEntry(
        run_id="r", window_id=window_id, replay_id=f"{window_id:06d}-00", path=f"replays/replay-{window_id:06d}-00.jsonl.gz",
        checkpoint_path="checkpoints/ckpt.pt", seed=1, tags=["every_window"], return_=1.0, net_profit=2.0,
        survival=True, steps=3, ticks=4, ended_by="cash_out", created_at=utc_now(),
    )  # fmt: skip


def test_the_follower_publishes_each_milestone_and_new_replay_once(tmp_path) -> None:
    async def scenario() -> list:
        paths = running_run(tmp_path)
        follower = WindowFollower(paths, queue_size=100)
        subscriber = follower.subscribe()
        writer = JsonlAppender(paths.windows)
        writer.append({"window_id": 0})
        entries = [replay_entry(0)]
        write_replay_index(paths, ReplayIndex(run_id="r", replays=entries))
        update_status(paths, RunStatus.running, milestones_reached=[milestone(0)], latest_replay=entries[-1])
        follower.poll()
        writer.append({"window_id": 1})
        entries.append(replay_entry(1))
        write_replay_index(paths, ReplayIndex(run_id="r", replays=entries))
        reached = [milestone(0), milestone(1, "survival_rate", 1.0)]
        update_status(paths, RunStatus.running, milestones_reached=reached, latest_replay=entries[-1])
        follower.poll()
        follower.poll()
        writer.close()
        return drain(subscriber.queue)

    events = asyncio.run(scenario())
    assert [(e.kind, e.id, e.ordinal) for e in events] == [
        (EventKind.window, 0, None), (EventKind.milestone, None, 1), (EventKind.replay, None, None),
        (EventKind.window, 1, None), (EventKind.milestone, None, 2), (EventKind.replay, None, None),
    ]  # fmt: skip
    assert json.loads(events[4].data)["metric"] == "survival_rate"
    assert [json.loads(e.data)["replay_id"] for e in events if e.kind == EventKind.replay] == ["000000-00", "000001-00"]


def _stream(client, **headers: str) -> list[tuple[str, str | None]]:
    response = client.get("/runs/done/events", headers=headers)
    if response.status_code == 204:
        return []
    return [(event.event, event.id) for event in sse_events(response) if event.event in ("window", "milestone")]


def test_milestone_events_carry_resumable_ids(tmp_path: Path) -> None:
    hand_made_run(tmp_path / "runs", "done", RunStatus.completed, windows=4,
                  milestones_reached=[milestone(1), milestone(2, "survival_rate", 1.0)])  # fmt: skip
    with in_process_client(tmp_path / "runs") as client:
        everything = _stream(client)
        after_first_milestone = _stream(client, **{"Last-Event-ID": "3.1"})
        after_windows = _stream(client, **{"Last-Event-ID": "3"})
        after_window_1 = _stream(client, **{"Last-Event-ID": "1"})
        nothing_left = client.get("/runs/done/events", headers={"Last-Event-ID": "3.2"})
        bad = client.get("/runs/done/events", headers={"Last-Event-ID": "3.x"})
    windows = [("window", str(w)) for w in range(4)]
    assert everything == [*windows, ("milestone", "3.1"), ("milestone", "3.2")]
    assert after_first_milestone == [("milestone", "3.2")]
    assert after_windows == [("milestone", "3.1"), ("milestone", "3.2")]
    assert after_window_1 == [*windows[2:], ("milestone", "3.1"), ("milestone", "3.2")]
    assert nothing_left.status_code == 204
    assert bad.status_code == 422 and "Last-Event-ID" in bad.text


def test_runs_filter_by_milestone(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    hand_made_run(runs, "rich", RunStatus.completed, milestones_reached=[milestone(0), milestone(1, threshold=5000)])
    hand_made_run(runs, "alive", RunStatus.completed, milestones_reached=[milestone(0, "survival_rate", 1.0)])
    hand_made_run(runs, "none", RunStatus.completed)
    with in_process_client(runs) as client:
        def ids(value: str) -> list[str]:
            return sorted(item["run_id"] for item in client.get("/runs", params={"milestone": value}).json()["items"])

        assert ids("net_profit_mean:5000") == ["rich"]
        assert ids("net_profit_mean:10000") == []
        assert ids("net_profit_mean") == ["rich"]
        assert ids("survival_rate:1") == ["alive"]
        bad = client.get("/runs", params={"milestone": "wealth:1"})
        shown = client.get("/runs/rich").json()
    assert bad.status_code == 422 and "milestone" in bad.text
    assert [m["threshold"] for m in shown["milestones_reached"]] == [1000, 5000]


def test_a_live_stream_resumes_after_a_milestone_without_gap_or_duplicate(server: Server) -> None:
    config = {**SHORT, "total_env_steps": 20_000, "milestones": ["survival_rate:0", "return_mean:-1000"]}
    with server.client() as client:
        assert client.post("/runs", json={**config, "run_id": "m"}).status_code == 201
        first = []
        with client.stream("GET", "/runs/m/events") as response:
            for event in sse_events(response):
                first.append(event)
                if event.event == "milestone":
                    break
        rest = follow(client, "m", headers={"Last-Event-ID": first[-1].id})
        run = client.get("/runs/m").json()
    events = first + rest
    milestones = [json.loads(e.data) for e in events if e.event == "milestone"]
    assert milestones == run["milestones_reached"] and len(milestones) == 2
    assert window_ids(events) == [w["window_id"] for w in file_windows(server.runs_root, "m")]
    assert first[-1].id == f"{window_ids(first)[-1]}.1"
