"""A run's live event stream (Server-Sent Events)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Response, status
from pydantic import ValidationError
from sse_starlette import EventSourceResponse

from app.api.deps import (
    AFTER_WINDOW_ID,
    MILESTONES_SENT,
    AfterWindowId,
    FollowersDep,
    RunDep,
    RunPathsDep,
    SettingsDep,
    SupervisorDep,
    WindowLogsDep,
)
from app.follower import EventKind, RunEvent, end_event, event_cursor, milestone_events
from app.models import NOT_FOUND, run_resource
from app.windowlog import Window
from trainer.rundir import TERMINAL_STATUSES

router = APIRouter(prefix="/runs", tags=["events"])

CHUNK_BYTES = 64 * 1024

STREAM_DOC = """Server-Sent Events, in this order:

- `snapshot`: the run resource, once, on connect;
- `window` (`id:` = window_id): each window record as written to windows.jsonl;
- `checkpoint`: the new latest checkpoint;
- `milestone`: each milestone reached (`{"metric", "threshold", "window_id", "env_steps", "value",
  "time"}`), in the order of run_metadata.json's `milestones_reached`;
- `replay`: each new replay_index.json entry;
- `status`: each status change (`{"status", "error", "error_kind", "exit_code"}`);
- `end` (`{"status"}`): the terminal status; then the stream closes.

Event ids are cursors: the last window id sent, then `.<n>` once n milestones were sent (e.g.
`12` or `12.3`). `Last-Event-ID` (or `?after=`, a window id) resumes after that point with no
gap and no duplicate window or milestone; a reconnect to a finished run with nothing newer gets
204. A keep-alive comment is sent every PROSPECTOR_SSE_PING_S seconds (15 by default).
"""


def _window_event(window: Window) -> RunEvent:
    window_id, raw = window
    return RunEvent(EventKind.window, raw.decode(), window_id)


async def _in_chunks(events: Iterable[RunEvent]) -> AsyncIterator[bytes]:
    """The events' wire bytes, joined up to CHUNK_BYTES per write, with a turn of the event loop
    between two chunks. The server learns that a client went away only on such a turn; until
    then, asyncio logs every further write to its socket, and a stream ends only there."""
    chunk = bytearray()
    for event in events:
        if len(chunk) >= CHUNK_BYTES:
            yield bytes(chunk)
            chunk.clear()
            await asyncio.sleep(0)
        chunk += event.wire
    if chunk:
        yield bytes(chunk)


def _parse_after(last_event_id: str | None, after: int | None) -> tuple[int, int] | None:
    """Where to resume: (window id, milestones sent), from `Last-Event-ID` if sent (`<window>` or
    `<window>.<milestones>`, by the same rule as `after`), else from `after`."""
    if last_event_id is None:
        return None if after is None else (after, 0)
    window, dot, milestones = last_event_id.partition(".")
    try:
        return AFTER_WINDOW_ID.validate_python(window), MILESTONES_SENT.validate_python(milestones) if dot else 0
    except ValidationError:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "Last-Event-ID: must be an event id: a window id (an integer >= -1), then optionally "
            "`.` and a milestone count",
        ) from None


class _Cursor:
    """What one stream has sent: windows up to `window`, the first `milestones` milestones.
    It drops what was sent already and gives each event its SSE id."""

    def __init__(self, window: int, milestones: int) -> None:
        self.window = window
        self.milestones = milestones

    def pass_on(self, event: RunEvent) -> RunEvent | None:
        if event.kind == EventKind.window and event.id is not None:
            if event.id <= self.window:
                return None
            self.window = event.id
        elif event.kind == EventKind.milestone and event.ordinal is not None:
            if event.ordinal <= self.milestones:
                return None
            self.milestones = event.ordinal
        else:
            return event
        return event if self.milestones == 0 else event.with_cursor(event_cursor(self.window, self.milestones))

    def all(self, events: Iterable[RunEvent]) -> list[RunEvent]:
        return [sent for event in events if (sent := self.pass_on(event)) is not None]


@router.get(
    "/{run_id}/events",
    description=STREAM_DOC,
    response_class=EventSourceResponse,
    responses={
        status.HTTP_200_OK: {"content": {"text/event-stream": {}}, "description": "The event stream."},
        status.HTTP_204_NO_CONTENT: {"description": "The run has finished and there is nothing newer."},
        **NOT_FOUND,
    },
)
async def run_events(
    meta: RunDep,
    paths: RunPathsDep,
    settings: SettingsDep,
    supervisor: SupervisorDep,
    followers: FollowersDep,
    window_logs: WindowLogsDep,
    after: Annotated[AfterWindowId | None, Query(description="Resume after this window id.")] = None,
    last_event_id: Annotated[str | None, Header(description="The last window id received; resume after it.")] = None,
) -> Response:
    """Follow a run live: snapshot, windows, checkpoints, status changes, end."""
    resume = _parse_after(last_event_id, after)
    since, milestones_sent = (-1, 0) if resume is None else resume
    cursor = _Cursor(since, milestones_sent)
    if meta.status in TERMINAL_STATUSES:
        window_log = window_logs.get(paths.windows)
        last = window_log.last_id()
        nothing_newer = (last is None or last <= since) and len(meta.milestones_reached) <= milestones_sent
        if resume is not None and nothing_newer:
            return Response(status_code=status.HTTP_204_NO_CONTENT)
        finished = [
            RunEvent(EventKind.snapshot, run_resource(meta, None).model_dump_json()),
            *cursor.all([*map(_window_event, window_log.after(since)), *milestone_events(meta)]),
            end_event(meta),
        ]
        return EventSourceResponse(
            _in_chunks(finished), ping=settings.sse_ping_s, send_timeout=settings.sse_send_timeout_s
        )

    follower, subscriber = followers.subscribe(paths)

    async def live() -> AsyncIterator[bytes]:
        try:
            snapshot = run_resource(follower.meta, supervisor.queue_position(meta.run_id))
            history = follower.log.after(since, upto=subscriber.upto)
            first = [
                RunEvent(EventKind.snapshot, snapshot.model_dump_json()),
                *cursor.all([*map(_window_event, history), *milestone_events(follower.meta)]),
            ]
            async for chunk in _in_chunks(first):
                yield chunk
            while (event := await subscriber.queue.get()) is not None:
                sent = cursor.pass_on(event)
                if sent is None:
                    continue
                yield sent.wire
                if event.kind == EventKind.end:
                    return
                if not subscriber.queue.empty():  # a backlog: one write per turn (see _in_chunks)
                    await asyncio.sleep(0)
        finally:
            followers.unsubscribe(meta.run_id, follower, subscriber)

    return EventSourceResponse(live(), ping=settings.sse_ping_s, send_timeout=settings.sse_send_timeout_s)
