"""WindowFollower: events in file order, checkpoint/status/end from metadata, slow clients dropped."""

from __future__ import annotations

import asyncio
import json

import pytest

from app.follower import EventKind, FollowerRegistry, Subscriber, WindowFollower
from tests.support import drain, running_run
from trainer.rundir import JsonlAppender, LatestCheckpoint, RunStatus, update_status, utc_now


def test_follower_publishes_windows_then_checkpoint_status_and_end(tmp_path) -> None:
    async def scenario() -> list:
        paths = running_run(tmp_path)
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
        return drain(subscriber.queue)

    events = asyncio.run(scenario())
    assert [(e.kind, e.id) for e in events] == [
        (EventKind.window, 0), (EventKind.window, 1), (EventKind.checkpoint, None),
        (EventKind.status, None), (EventKind.end, None),
    ]
    assert json.loads(events[-1].data) == {"status": "completed"}


def test_a_slow_subscriber_is_dropped_and_the_others_keep_going(tmp_path) -> None:
    async def scenario() -> tuple[list, list]:
        paths = running_run(tmp_path)
        follower = WindowFollower(paths, queue_size=2)
        slow, fast = follower.subscribe(), follower.subscribe()
        writer = JsonlAppender(paths.windows)
        received = []
        for window_id in range(4):
            writer.append({"window_id": window_id})
            follower.poll()
            received += drain(fast.queue)
        writer.close()
        return drain(slow.queue), received

    slow_events, fast_events = asyncio.run(scenario())
    assert slow_events == [None]
    assert [e.id for e in fast_events] == [0, 1, 2, 3]


def test_registry_shares_one_follower_and_drops_it_with_the_last_subscriber(tmp_path) -> None:
    async def scenario() -> None:
        paths = running_run(tmp_path)
        registry = FollowerRegistry(poll_s=0.01, queue_size=10)
        follower, first = registry.subscribe(paths)
        same, second = registry.subscribe(paths)
        assert same is follower
        registry.unsubscribe("r", follower, first)
        registry.unsubscribe("r", follower, second)
        other, third = registry.subscribe(paths)
        assert other is not follower
        registry.unsubscribe("r", other, third)
        await registry.close()

    asyncio.run(scenario())


async def _next_window(subscriber: Subscriber, timeout: float = 10) -> int | None:
    while True:
        event = await asyncio.wait_for(subscriber.queue.get(), timeout)
        if event is None or event.kind == EventKind.window:
            return None if event is None else event.id


def test_a_subscriber_right_after_the_last_one_left_gets_the_next_window(tmp_path) -> None:
    """The follower of the last subscriber used to die after a new subscriber had joined it."""

    async def scenario() -> int | None:
        paths = running_run(tmp_path)
        registry = FollowerRegistry(poll_s=0.01, queue_size=10)
        follower, first = registry.subscribe(paths)
        await asyncio.sleep(0)  # let the follower's machinery start
        registry.unsubscribe("r", follower, first)
        follower, second = registry.subscribe(paths)
        writer = JsonlAppender(paths.windows)
        writer.append({"window_id": 0})
        try:
            return await _next_window(second, timeout=5)
        finally:
            writer.close()
            registry.unsubscribe("r", follower, second)
            await registry.close()

    assert asyncio.run(scenario()) == 0


@pytest.mark.parametrize(("watch", "poll_s"), [(True, 3600.0), (False, 0.01)], ids=["watchfiles", "stat-poll"])
def test_windows_and_the_end_reach_subscribers(tmp_path, watch: bool, poll_s: float) -> None:
    """With the watcher on, the hour-long fallback poll never runs: inotify alone delivers."""

    async def scenario() -> list:
        paths = running_run(tmp_path)
        registry = FollowerRegistry(poll_s=poll_s, queue_size=100, watch=watch)
        follower, subscriber = registry.subscribe(paths)
        writer = JsonlAppender(paths.windows)
        ids = []
        for window_id in range(3):
            writer.append({"window_id": window_id})
            ids.append(await _next_window(subscriber))
        update_status(paths, RunStatus.completed)
        events = [await asyncio.wait_for(subscriber.queue.get(), 10) for _ in range(2)]
        writer.close()
        await registry.close()
        return ids + [e.kind for e in events]

    assert asyncio.run(scenario()) == [0, 1, 2, EventKind.status, EventKind.end]


def test_when_files_cannot_be_watched_the_poll_delivers_and_one_warning_says_so(tmp_path, monkeypatch, caplog) -> None:
    async def no_inotify(*paths, **kwargs):
        raise OSError(28, "OS file watch limit reached")
        yield set()

    monkeypatch.setattr("app.filewatch.awatch", no_inotify)

    async def scenario() -> list:
        registry = FollowerRegistry(poll_s=0.01, queue_size=100)
        subscriptions = []
        for run_id in ("a", "b"):  # the second run restarts the watcher, which fails again
            paths = running_run(tmp_path, run_id)
            subscriptions.append((paths, registry.subscribe(paths)[1]))
        ids = []
        for paths, subscriber in subscriptions:
            writer = JsonlAppender(paths.windows)
            writer.append({"window_id": 0})
            writer.close()
            ids.append(await _next_window(subscriber))
        await registry.close()
        return ids

    assert asyncio.run(scenario()) == [0, 0]
    warnings = [r for r in caplog.records if r.name == "app.filewatch" and r.levelname == "WARNING"]
    assert len(warnings) == 1 and "file watch limit" in warnings[0].getMessage()


def test_a_follower_that_fails_once_keeps_publishing(tmp_path, monkeypatch, caplog) -> None:
    poll = WindowFollower.poll
    failures = []

    def fail_once(self: WindowFollower) -> None:
        if not failures:
            failures.append(self)
            raise OSError(5, "Input/output error")
        poll(self)

    monkeypatch.setattr(WindowFollower, "poll", fail_once)

    async def scenario() -> int | None:
        paths = running_run(tmp_path)
        registry = FollowerRegistry(poll_s=0.01, queue_size=100, watch=False)
        _, subscriber = registry.subscribe(paths)
        writer = JsonlAppender(paths.windows)
        writer.append({"window_id": 0})
        writer.close()
        window_id = await _next_window(subscriber)
        await registry.close()
        return window_id

    assert asyncio.run(scenario()) == 0
    assert failures and "Input/output error" in caplog.text
