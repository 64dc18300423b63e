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
    AfterWindowId,
    FollowersDep,
    RunDep,
    RunPathsDep,
    SettingsDep,
    SupervisorDep,
    WindowLogsDep,
)
from app.follower import EventKind, RunEvent, end_event
from app.models import ErrorBody, run_resource
from app.windowlog import Window
from trainer.rundir import TERMINAL_STATUSES

router = APIRouter(prefix="/runs", tags=["events"])

CHUNK_BYTES = 64 * 1024

STREAM_DOC = """Server-Sent Events, in this order:

- `snapshot`: the run resource, once, on connect;
- `window` (`id:` = window_id): each window record as written to windows.jsonl;
- `checkpoint`: the new latest checkpoint;
- `status`: each status change (`{"status", "error", "error_kind", "exit_code"}`);
- `end` (`{"status"}`): the terminal status; then the stream closes.

`Last-Event-ID` (or `?after=`) resumes after that window with no gap and no duplicate; a
reconnect to a finished run with nothing newer gets 204. A comment is sent every 15 s.
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


def _parse_after(last_event_id: str | None, after: int | None) -> int | None:
    """The window id to resume after: `Last-Event-ID` if sent (by the same rule as `after`), else `after`."""
    if last_event_id is None:
        return after
    try:
        return AFTER_WINDOW_ID.validate_python(last_event_id)
    except ValidationError:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "Last-Event-ID: must be a window id (an integer >= -1)"
        ) from None


@router.get(
    "/{run_id}/events",
    description=STREAM_DOC,
    response_class=EventSourceResponse,
    responses={
        status.HTTP_200_OK: {"content": {"text/event-stream": {}}, "description": "The event stream."},
        status.HTTP_204_NO_CONTENT: {"description": "The run has finished and there is nothing newer."},
        status.HTTP_404_NOT_FOUND: {"model": ErrorBody},
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
    after_id = _parse_after(last_event_id, after)
    since = -1 if after_id is None else after_id
    if meta.status in TERMINAL_STATUSES:
        window_log = window_logs.get(paths.windows)
        last = window_log.last_id()
        if after_id is not None and (last is None or last <= after_id):
            return Response(status_code=status.HTTP_204_NO_CONTENT)
        finished = [
            RunEvent(EventKind.snapshot, run_resource(meta, None).model_dump_json()),
            *map(_window_event, window_log.after(since)),
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
            last_sent = history[-1][0] if history else since
            first = [RunEvent(EventKind.snapshot, snapshot.model_dump_json()), *map(_window_event, history)]
            async for chunk in _in_chunks(first):
                yield chunk
            while (event := await subscriber.queue.get()) is not None:
                if event.kind == EventKind.window and event.id is not None:
                    if event.id <= last_sent:
                        continue
                    last_sent = event.id
                yield event.wire
                if event.kind == EventKind.end:
                    return
                if not subscriber.queue.empty():  # a backlog: one write per turn (see _in_chunks)
                    await asyncio.sleep(0)
        finally:
            followers.unsubscribe(meta.run_id, follower, subscriber)

    return EventSourceResponse(live(), ping=settings.sse_ping_s, send_timeout=settings.sse_send_timeout_s)
