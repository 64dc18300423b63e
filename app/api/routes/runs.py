"""Runs: launch, list, inspect, cancel, resume and delete."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status

from app.api.deps import RunDep, RunIdDep, StoreDep, SupervisorDep
from app.models import ErrorBody, RunCreate, RunPage, RunResource, run_resource
from app.store import InvalidCursor
from trainer.config import TrainerBackend
from trainer.rundir import RunStatus

router = APIRouter(prefix="/runs", tags=["runs"])

CONFLICT = {status.HTTP_409_CONFLICT: {"model": ErrorBody, "description": "The run's state does not allow it."}}
NOT_FOUND = {status.HTTP_404_NOT_FOUND: {"model": ErrorBody, "description": "No such run."}}


def new_run_id() -> str:
    """`<UTC %Y%m%dT%H%M%SZ>-<6 hex>`, the trainer's own default form."""
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=RunResource,
    responses={
        status.HTTP_200_OK: {"model": RunResource, "description": "Same run_id and config: the existing run."},
        **CONFLICT,
    },
)
async def create_run(body: RunCreate, response: Response, store: StoreDep, supervisor: SupervisorDep) -> RunResource:
    """Queue a training run. Retrying with the same `run_id` and config is safe (200)."""
    config = body.train_config()
    run_id = body.run_id or new_run_id()
    try:
        meta = supervisor.submit(run_id, config)
    except FileExistsError:
        existing = store.get(run_id)
        if existing is None or store.read_config(run_id) != config:
            raise HTTPException(
                status.HTTP_409_CONFLICT, f"run {run_id} already exists with a different config"
            ) from None
        meta = existing
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/runs/{run_id}"
    return run_resource(meta, supervisor.queue_position(run_id))


@router.get("", response_model=RunPage, responses={422: {"model": ErrorBody}})
async def list_runs(
    store: StoreDep,
    supervisor: SupervisorDep,
    status_: Annotated[RunStatus | None, Query(alias="status", description="Only runs in this status.")] = None,
    backend: Annotated[TrainerBackend | None, Query(description="Only runs of this trainer backend.")] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Page size.")] = 50,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
) -> RunPage:
    """Runs, newest first, one page at a time."""
    try:
        metas, next_cursor = store.page(limit=limit, cursor=cursor, status=status_, backend=backend)
    except InvalidCursor as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"cursor: {exc}") from exc
    items = [run_resource(m, supervisor.queue_position(m.run_id)) for m in metas]
    return RunPage(items=items, next_cursor=next_cursor)


@router.get("/{run_id}", response_model=RunResource, responses=NOT_FOUND)
async def get_run(meta: RunDep, supervisor: SupervisorDep) -> RunResource:
    """A run's status, queue position, counters, latest window and checkpoint, and links."""
    return run_resource(meta, supervisor.queue_position(meta.run_id))


@router.post(
    "/{run_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RunResource,
    responses={**NOT_FOUND, **CONFLICT},
)
async def cancel_run(run_id: RunIdDep, supervisor: SupervisorDep) -> RunResource:
    """Cancel: a queued run at once; a running one gets SIGTERM, then SIGKILL after the grace."""
    meta = supervisor.cancel(run_id)
    return run_resource(meta, supervisor.queue_position(run_id))


@router.post(
    "/{run_id}/resume",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RunResource,
    responses={**NOT_FOUND, **CONFLICT},
)
async def resume_run(run_id: RunIdDep, supervisor: SupervisorDep) -> RunResource:
    """Queue a cancelled, interrupted or failed run again, to continue from its last checkpoint."""
    meta = await supervisor.resume(run_id)
    return run_resource(meta, supervisor.queue_position(run_id))


@router.delete("/{run_id}", status_code=status.HTTP_204_NO_CONTENT, responses={**NOT_FOUND, **CONFLICT})
async def delete_run(run_id: RunIdDep, supervisor: SupervisorDep) -> Response:
    """Remove a finished run's directory."""
    await supervisor.delete(run_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
