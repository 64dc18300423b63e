"""A run's trainer log: the last lines, or a live follow."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import PlainTextResponse, StreamingResponse

from app.api.deps import RunDep, RunPathsDep, StoreDep
from app.models import NOT_FOUND
from app.trainer_log import follow_log, read_tail_and_end
from trainer.rundir import TERMINAL_STATUSES, is_run_live

router = APIRouter(prefix="/runs", tags=["logs"])


@router.get(
    "/{run_id}/logs",
    response_class=PlainTextResponse,
    response_model=None,
    responses={
        status.HTTP_200_OK: {"content": {"text/plain": {}}, "description": "The log's last lines."},
        **NOT_FOUND,
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
    text, end = read_tail_and_end(paths.log, tail)
    if follow:

        def over() -> bool:
            # The trainer logs its last lines after its final status: over once it let go of the run.
            run = store.get(meta.run_id)
            return run is None or (run.status in TERMINAL_STATUSES and not is_run_live(paths))

        return StreamingResponse(follow_log(paths.log, text, end, over), media_type="text/plain; charset=utf-8")
    return PlainTextResponse(text)
