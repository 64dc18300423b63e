"""Following live runs: one WindowFollower per followed run, fanning its news out to subscribers.

A follower polls two files of its run: metrics/windows.jsonl by byte offset (whole lines only)
and run_metadata.json by stat. Each new window, checkpoint and status becomes a `RunEvent`
put on every subscriber's bounded queue; a subscriber whose queue is full is dropped (its
stream ends and the client reconnects with Last-Event-ID). The follower stops when the run
reaches a terminal status or its last subscriber leaves.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import ValidationError
from sse_starlette import ServerSentEvent

from app.windowlog import WindowLog
from trainer.rundir import TERMINAL_STATUSES, RunMetadata, RunPaths, read_metadata

log = logging.getLogger(__name__)


class EventKind(StrEnum):
    snapshot = "snapshot"
    window = "window"
    checkpoint = "checkpoint"
    status = "status"
    end = "end"


@dataclass(frozen=True)
class RunEvent:
    """One SSE event: `id` is set for windows only (their window_id). `wire` is the encoded
    event, made once for all subscribers."""

    kind: EventKind
    data: str
    id: int | None = None
    wire: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        sse = ServerSentEvent(data=self.data, event=self.kind.value, id=None if self.id is None else str(self.id))
        object.__setattr__(self, "wire", sse.encode())


def status_event(meta: RunMetadata) -> RunEvent:
    body = {"status": meta.status.value, "error": meta.error, "exit_code": meta.exit_code}
    return RunEvent(EventKind.status, json.dumps(body))


def end_event(meta: RunMetadata) -> RunEvent:
    return RunEvent(EventKind.end, json.dumps({"status": meta.status.value}))


class Subscriber:
    """One client's bounded event queue; `None` on it means the client was dropped."""

    def __init__(self, size: int, upto: int) -> None:
        self.queue: asyncio.Queue[RunEvent | None] = asyncio.Queue(size)
        self.upto = upto  # windows before this byte offset were published before it subscribed

    def offer(self, event: RunEvent) -> bool:
        """Queue the event; False (and the queue replaced by a drop marker) if it is full."""
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(None)
            return False
        return True


def _meta_stamp(paths: RunPaths) -> tuple[int, int, int] | None:
    try:
        st = paths.metadata.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


class WindowFollower:
    """Tails one run's files and publishes what is new to its subscribers."""

    def __init__(self, paths: RunPaths, queue_size: int) -> None:
        self._paths = paths
        self._queue_size = queue_size
        self._subscribers: set[Subscriber] = set()
        self._stamp = _meta_stamp(paths)
        self.meta = read_metadata(paths)
        self.log = WindowLog(paths.windows)
        self.log.refresh()
        self.finished = self.meta.status in TERMINAL_STATUSES

    def subscribe(self) -> Subscriber:
        """Add a subscriber; windows up to its `upto` offset are for it to read from `log`."""
        subscriber = Subscriber(self._queue_size, self.log.end)
        if self.finished:
            subscriber.offer(end_event(self.meta))
        else:
            self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    async def run(self, poll_s: float) -> None:
        """Poll until the run ends."""
        while not self.finished:
            self.poll()
            if not self.finished:
                await asyncio.sleep(poll_s)

    def poll(self) -> None:
        """Publish new windows, then any checkpoint or status change; `end` once terminal."""
        new_meta = self._read_meta_if_changed()
        for window_id, raw in self.log.refresh():
            self._publish(RunEvent(EventKind.window, raw.decode(), window_id))
        if new_meta is None:
            return
        old, self.meta = self.meta, new_meta
        checkpoint = new_meta.latest_checkpoint
        if checkpoint is not None and checkpoint != old.latest_checkpoint:
            self._publish(RunEvent(EventKind.checkpoint, checkpoint.model_dump_json()))
        if new_meta.status != old.status:
            self._publish(status_event(new_meta))
        if new_meta.status in TERMINAL_STATUSES:
            self._publish(end_event(new_meta))
            self.finished = True
            self._subscribers.clear()

    def _read_meta_if_changed(self) -> RunMetadata | None:
        stamp = _meta_stamp(self._paths)
        if stamp is None or stamp == self._stamp:
            return None
        try:
            meta = read_metadata(self._paths)
        except (FileNotFoundError, ValidationError) as exc:
            log.warning("%s: unreadable metadata: %s", self._paths.root, exc)
            return None
        self._stamp = stamp
        return meta

    def _publish(self, event: RunEvent) -> None:
        for subscriber in list(self._subscribers):
            if not subscriber.offer(event):
                log.info("%s: dropping a slow subscriber", self._paths.run_id)
                self._subscribers.discard(subscriber)


class FollowerRegistry:
    """At most one follower per run, started by its first subscriber, stopped after its last."""

    def __init__(self, poll_s: float, queue_size: int) -> None:
        self._poll_s = poll_s
        self._queue_size = queue_size
        self._followers: dict[str, tuple[WindowFollower, asyncio.Task[None]]] = {}

    def subscribe(self, paths: RunPaths) -> tuple[WindowFollower, Subscriber]:
        """Subscribe to the run's follower, starting it if needed (FileNotFoundError if no run)."""
        entry = self._followers.get(paths.run_id)
        if entry is None or entry[0].finished:
            follower = WindowFollower(paths, self._queue_size)
            task = asyncio.create_task(follower.run(self._poll_s))
            self._followers[paths.run_id] = (follower, task)
            task.add_done_callback(lambda t, run_id=paths.run_id: self._forget(run_id, t))
        follower = self._followers[paths.run_id][0]
        return follower, follower.subscribe()

    def unsubscribe(self, run_id: str, follower: WindowFollower, subscriber: Subscriber) -> None:
        follower.unsubscribe(subscriber)
        entry = self._followers.get(run_id)
        if entry is not None and entry[0] is follower and follower.subscriber_count == 0:
            entry[1].cancel()

    def _forget(self, run_id: str, task: asyncio.Task[None]) -> None:
        entry = self._followers.get(run_id)
        if entry is not None and entry[1] is task:
            del self._followers[run_id]
        if not task.cancelled() and task.exception() is not None:
            log.error("follower of %s failed", run_id, exc_info=task.exception())

    async def close(self) -> None:
        tasks = [task for _, task in self._followers.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
