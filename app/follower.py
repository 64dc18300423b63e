"""Following live runs: one WindowFollower per followed run, fanning its news out to subscribers.

A follower reads two files of its run: metrics/windows.jsonl by byte offset (whole lines only)
and run_metadata.json by stat (and replay_index.json when the metadata's latest replay
changes). Each new window, checkpoint, milestone, replay and status becomes a `RunEvent`
put on every subscriber's bounded queue; a subscriber whose queue is full is dropped (its
stream ends and the client reconnects with Last-Event-ID). The registry wakes followers when
their files change (watchfiles, see app.filewatch) and, as a fallback, stat-polls them every
`poll_s`; a follower is dropped when its run reaches a terminal status or its last subscriber
leaves.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import ValidationError
from sse_starlette import ServerSentEvent

from app.filestamp import file_stamp
from app.filewatch import RunFileWatcher
from app.windowlog import WindowLog
from trainer.replay_index import read_replay_index
from trainer.rundir import TERMINAL_STATUSES, RunMetadata, RunPaths, read_metadata

log = logging.getLogger(__name__)


class EventKind(StrEnum):
    snapshot = "snapshot"
    window = "window"
    checkpoint = "checkpoint"
    milestone = "milestone"
    replay = "replay"
    status = "status"
    end = "end"


@dataclass(frozen=True)
class RunEvent:
    """One SSE event: `id` is set for windows only (their window_id), `ordinal` for milestones
    only (their 1-based place in milestones_reached). `wire` is the encoded event, made once for
    all subscribers, with `cursor` as its SSE id (default: `id`)."""

    kind: EventKind
    data: str
    id: int | None = None
    ordinal: int | None = None
    cursor: str | None = None
    wire: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        cursor = self.cursor if self.cursor is not None or self.id is None else str(self.id)
        sse = ServerSentEvent(data=self.data, event=self.kind.value, id=cursor)
        object.__setattr__(self, "wire", sse.encode())

    def with_cursor(self, cursor: str) -> RunEvent:
        """The same event with another SSE id."""
        return RunEvent(self.kind, self.data, self.id, self.ordinal, cursor)


def event_cursor(window_id: int, milestones: int) -> str:
    """The SSE id of an event after `window_id` and `milestones` milestones were sent: the
    window id alone while no milestone was (as before milestones existed), else `<window>.<n>`."""
    return str(window_id) if milestones == 0 else f"{window_id}.{milestones}"


def milestone_events(meta: RunMetadata, start: int = 0) -> list[RunEvent]:
    """The `milestone` events of meta.milestones_reached[start:]."""
    return [
        RunEvent(EventKind.milestone, m.model_dump_json(), ordinal=k)
        for k, m in enumerate(meta.milestones_reached[start:], start + 1)
    ]


def status_event(meta: RunMetadata) -> RunEvent:
    body = meta.model_dump(mode="json", include={"status", "error", "error_kind", "exit_code"})
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


class WindowFollower:
    """Tails one run's files and publishes what is new to its subscribers."""

    def __init__(self, paths: RunPaths, queue_size: int) -> None:
        self.paths = paths
        self._queue_size = queue_size
        self._subscribers: set[Subscriber] = set()
        self._stamp = file_stamp(paths.metadata)
        self.meta = read_metadata(paths)
        self.log = WindowLog(paths.windows)
        self.log.refresh()
        self.finished = self.meta.status in TERMINAL_STATUSES
        self.replays_seen = len(read_replay_index(paths).replays) if self.meta.latest_replay else 0

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
        for event in milestone_events(new_meta, len(old.milestones_reached)):
            self._publish(event)
        if new_meta.latest_replay is not None and new_meta.latest_replay != old.latest_replay:
            self._publish_replays()
        if new_meta.status != old.status:
            self._publish(status_event(new_meta))
        if new_meta.status in TERMINAL_STATUSES:
            self._publish(end_event(new_meta))
            self.finished = True
            self._subscribers.clear()

    def _publish_replays(self) -> None:
        """A `replay` event for each replay_index.json entry not seen yet."""
        try:
            replays = read_replay_index(self.paths).replays
        except ValidationError as exc:
            log.warning("%s: unreadable replay index: %s", self.paths.root, exc)
            return
        for entry in replays[self.replays_seen :]:
            self._publish(RunEvent(EventKind.replay, entry.model_dump_json()))
        self.replays_seen = len(replays)

    def _read_meta_if_changed(self) -> RunMetadata | None:
        stamp = file_stamp(self.paths.metadata)
        if stamp is None or stamp == self._stamp:
            return None
        self._stamp = stamp  # an unreadable version is reported once, not at every poll
        try:
            return read_metadata(self.paths)
        except (FileNotFoundError, ValidationError) as exc:
            log.warning("%s: unreadable metadata: %s", self.paths.root, exc)
            return None

    def _publish(self, event: RunEvent) -> None:
        for subscriber in list(self._subscribers):
            if not subscriber.offer(event):
                log.info("%s: dropping a slow subscriber", self.paths.run_id)
                self._subscribers.discard(subscriber)


class FollowerRegistry:
    """At most one follower per run, from its first subscriber until its last leaves or the run ends.

    Followers are polled when the watcher reports a change of their files, and all of them every
    `poll_s` in any case (with `watch` off, that poll is all there is).
    """

    def __init__(self, poll_s: float, queue_size: int, *, watch: bool = True, watch_step_s: float = 0.002) -> None:
        self._poll_s = poll_s
        self._queue_size = queue_size
        self._followers: dict[str, WindowFollower] = {}
        self._watcher = RunFileWatcher(watch_step_s, self._poll) if watch else None
        self._followed = asyncio.Event()  # set while there is a follower to poll
        self._poll_task: asyncio.Task[None] | None = None
        self._watch_task: asyncio.Task[None] | None = None

    def subscribe(self, paths: RunPaths) -> tuple[WindowFollower, Subscriber]:
        """Subscribe to the run's follower, starting it if needed (FileNotFoundError if no run)."""
        follower = self._followers.get(paths.run_id)
        if follower is None:
            follower = WindowFollower(paths, self._queue_size)
            if not follower.finished:
                self._followers[paths.run_id] = follower
                self._followers_changed()
        return follower, follower.subscribe()

    def unsubscribe(self, run_id: str, follower: WindowFollower, subscriber: Subscriber) -> None:
        follower.unsubscribe(subscriber)
        if follower.subscriber_count == 0 and self._followers.get(run_id) is follower:
            del self._followers[run_id]
            self._followers_changed()

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.close()  # it returns within a step (cancelling it would wait for its thread)
        if self._poll_task is not None:
            self._poll_task.cancel()
        await asyncio.gather(*(t for t in (self._poll_task, self._watch_task) if t), return_exceptions=True)

    def _followers_changed(self) -> None:
        if self._poll_task is None:
            self._poll_task = asyncio.create_task(self._poll_every_interval())
            self._poll_task.add_done_callback(_log_failure)
            if self._watcher is not None:
                self._watch_task = asyncio.create_task(self._watcher.run())
                self._watch_task.add_done_callback(_log_failure)
        if self._followers:
            self._followed.set()
        else:
            self._followed.clear()
        if self._watcher is not None:
            self._watcher.watch(follower.paths for follower in self._followers.values())

    async def _poll_every_interval(self) -> None:
        while True:
            await self._followed.wait()
            await asyncio.sleep(self._poll_s)
            self._poll(None)

    def _poll(self, run_ids: set[str] | None) -> None:
        """Let the followers of `run_ids` (None: all) publish what is new; drop the finished ones."""
        ended = False
        for run_id in list(self._followers) if run_ids is None else run_ids:
            follower = self._followers.get(run_id)
            if follower is None:
                continue
            try:
                follower.poll()
            except Exception:  # one run's unreadable files must not stop the others' events
                log.exception("follower of %s failed to read its run", run_id)
            if follower.finished:
                del self._followers[run_id]
                ended = True
        if ended:
            self._followers_changed()


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("follower task failed", exc_info=task.exception())
