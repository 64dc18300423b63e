"""WindowFollower: events in file order, checkpoint/status/end from metadata, slow clients dropped."""

from __future__ import annotations

import asyncio
import json

from app.follower import EventKind, FollowerRegistry, WindowFollower
from app.store import RunStore
from trainer.config import TrainConfig
from trainer.rundir import JsonlAppender, LatestCheckpoint, RunPaths, RunStatus, update_status, utc_now


def _run(tmp_path) -> RunPaths:
    RunStore(tmp_path).create("r", TrainConfig())
    paths = RunPaths(tmp_path / "r")
    update_status(paths, RunStatus.starting)
    update_status(paths, RunStatus.running)
    return paths


def _drain(queue: asyncio.Queue) -> list:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


def test_follower_publishes_windows_then_checkpoint_status_and_end(tmp_path) -> None:
    async def scenario() -> list:
        paths = _run(tmp_path)
        follower = WindowFollower(paths, queue_size=100)
        subscriber = follower.subscribe()
        writer = JsonlAppender(paths.windows)
        writer.append({"window_id": 0})
        follower.poll()
        writer.append({"window_id": 1})
        checkpoint = LatestCheckpoint(window_id=1, env_steps_total=2, path="checkpoints/ckpt_000001.pt", created_at=utc_now())
        update_status(paths, RunStatus.completed, latest_checkpoint=checkpoint)
        follower.poll()
        writer.close()
        assert follower.finished
        return _drain(subscriber.queue)

    events = asyncio.run(scenario())
    assert [(e.kind, e.id) for e in events] == [
        (EventKind.window, 0), (EventKind.window, 1), (EventKind.checkpoint, None),
        (EventKind.status, None), (EventKind.end, None),
    ]
    assert json.loads(events[-1].data) == {"status": "completed"}


def test_a_slow_subscriber_is_dropped_and_the_others_keep_going(tmp_path) -> None:
    async def scenario() -> tuple[list, list]:
        paths = _run(tmp_path)
        follower = WindowFollower(paths, queue_size=2)
        slow, fast = follower.subscribe(), follower.subscribe()
        writer = JsonlAppender(paths.windows)
        received = []
        for window_id in range(4):
            writer.append({"window_id": window_id})
            follower.poll()
            received += _drain(fast.queue)
        writer.close()
        return _drain(slow.queue), received

    slow_events, fast_events = asyncio.run(scenario())
    assert slow_events == [None]
    assert [e.id for e in fast_events] == [0, 1, 2, 3]


def test_registry_shares_one_follower_and_stops_it_after_the_last_subscriber(tmp_path) -> None:
    async def scenario() -> None:
        paths = _run(tmp_path)
        registry = FollowerRegistry(poll_s=0.01, queue_size=10)
        follower, first = registry.subscribe(paths)
        same, second = registry.subscribe(paths)
        assert same is follower
        registry.unsubscribe("r", follower, first)
        registry.unsubscribe("r", follower, second)
        await asyncio.sleep(0.05)
        other, third = registry.subscribe(paths)
        assert other is not follower
        registry.unsubscribe("r", other, third)
        await registry.close()

    asyncio.run(scenario())
