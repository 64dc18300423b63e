"""A run's trainer log: the last lines, or a live follow."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import PlainTextResponse, StreamingResponse

from app.api.deps import RunDep, RunPathsDep, StoreDep
from app.models import ErrorBody
from app.store import RunStore
from app.trainer_log import read_tail
from trainer.rundir import TERMINAL_STATUSES, RunPaths, is_run_live

router = APIRouter(prefix="/runs", tags=["logs"])

FOLLOW_POLL_S = 0.25
READ_CHUNK = 64 * 1024


async def _follow(store: RunStore, paths: RunPaths, first: str) -> AsyncIterator[bytes]:
    """`first`, then whatever the trainer appends, until the run is over and the log drained."""
    yield first.encode()
    try:
        offset = paths.log.stat().st_size
    except FileNotFoundError:
        offset = 0
    while True:
        meta = store.get(paths.run_id)
        # The trainer logs its last lines after writing its final status: drain once it let go of the run.
        finished = meta is None or (meta.status in TERMINAL_STATUSES and not is_run_live(paths))
        try:
            with open(paths.log, "rb") as f:
                size = f.seek(0, os.SEEK_END)
                if size < offset:  # moved aside by the size cap: start over on the new file
                    offset = 0
                f.seek(offset)
                chunk = f.read(READ_CHUNK)
        except FileNotFoundError:
            chunk = b""
        if chunk:
            offset += len(chunk)
            yield chunk
        elif finished:
            return
        else:
            await asyncio.sleep(FOLLOW_POLL_S)


@router.get(
    "/{run_id}/logs",
    response_class=PlainTextResponse,
    response_model=None,
    responses={
        status.HTTP_200_OK: {"content": {"text/plain": {}}, "description": "The log's last lines."},
        status.HTTP_404_NOT_FOUND: {"model": ErrorBody},
    },
)
async def run_logs(
    meta: RunDep,
    paths: RunPathsDep,
    store: StoreDep,
    tail: Annotated[int, Query(ge=0, le=100_000, description="How many last lines.")] = 200,
    follow: Annotated[bool, Query(description="Keep streaming new output until the run ends.")] = False,
) -> Response:
    """The trainer's stdout and stderr (logs/trainer.log)."""
    text = read_tail(paths.log, tail) if tail else ""
    if follow:
        return StreamingResponse(_follow(store, paths, text), media_type="text/plain; charset=utf-8")
    return PlainTextResponse(text)
