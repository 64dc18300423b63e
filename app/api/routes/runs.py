"""Runs: launch, list, inspect, cancel, resume and delete."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, HTTPException, Query, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from app.api.deps import RunDep, RunIdDep, SettingsDep, StoreDep, SupervisorDep
from app.models import (
    CONFLICT,
    NOT_FOUND,
    WRITE_ERRORS,
    AnyRunResource,
    RunCreate,
    RunPage,
    RunResource,
    RunResume,
    corrupt_run_resource,
    run_resource,
)
from app.run_errors import RunConflict, RunExists, RunNotFound
from app.store import InvalidCursor, Run, RunSort
from app.supervisor import RunSupervisor
from trainer.config import Milestone, MilestoneMetric, TrainConfig, TrainerBackend
from trainer.rundir import RunMetadata, RunStatus, new_run_id

router = APIRouter(prefix="/runs", tags=["runs"])

# State-changing routes: also refused before the handler (foreign origin, body size, type).
WRITE = {**WRITE_ERRORS, **CONFLICT}


def _run(meta: RunMetadata, supervisor: RunSupervisor) -> RunResource:
    return run_resource(meta, supervisor.queue_position(meta.run_id), supervisor.ray_job(meta))


def _resource(run: Run, supervisor: RunSupervisor) -> AnyRunResource:
    if isinstance(run, RunMetadata):
        return _run(run, supervisor)
    return corrupt_run_resource(run)


def body_error(field: str, message: str, value: Any) -> RequestValidationError:
    """A 422 naming `field` of the request body, shaped like FastAPI's own."""
    return RequestValidationError([{"type": "value_error", "loc": ("body", field), "msg": message, "input": value}])


def within_limits(validate: Callable[[], TrainConfig]) -> TrainConfig:
    """`validate()`'s TrainConfig; its ValidationError becomes a 422 naming the body's fields."""
    try:
        return validate()
    except ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from exc


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=RunResource,
    responses={
        status.HTTP_200_OK: {"model": RunResource, "description": "Same run_id and config: the existing run."},
        **WRITE,
    },
)
async def create_run(
    body: RunCreate, response: Response, store: StoreDep, supervisor: SupervisorDep, settings: SettingsDep
) -> RunResource:
    """Queue a training run. Retrying with the same `run_id` and config is safe (200). The config
    must fit the server's limits (`PROSPECTOR_TRAIN_LIMITS`); `window_env_steps` must not exceed
    `total_env_steps` (when not given: the smaller of 100000 and `total_env_steps`)."""
    config = within_limits(lambda: body.train_config(settings.train_limits))
    if config.wandb_mode == "online" and not settings.allow_wandb_online:
        raise body_error("wandb_mode", "online is not allowed by this server (PROSPECTOR_ALLOW_WANDB_ONLINE)", "online")
    run_id = body.run_id or new_run_id()
    try:
        meta = await supervisor.submit(run_id, config)
    except RunExists:
        existing = store.get(run_id)
        if existing is None or store.read_config(run_id) != config:
            raise RunExists(f"run {run_id} already exists with a different config") from None
        meta = existing
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/runs/{run_id}"
    return _run(meta, supervisor)


def _milestone_filter(text: str | None) -> Milestone | str | None:
    """The `milestone` query: a Milestone, a metric alone, or None; a 422 naming it if neither."""
    if text is None or text in get_args(MilestoneMetric):
        return text
    try:
        return Milestone.model_validate(text)
    except ValidationError as exc:
        message = "; ".join(error["msg"] for error in exc.errors(include_url=False))
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("query", "milestone"), "msg": message, "input": text}]
        ) from None


@router.get("", response_model=RunPage)
async def list_runs(
    store: StoreDep,
    supervisor: SupervisorDep,
    status_: Annotated[
        RunStatus | Literal["corrupt"] | None, Query(alias="status", description="Only runs in this status.")
    ] = None,
    backend: Annotated[TrainerBackend | None, Query(description="Only runs of this trainer backend.")] = None,
    q: Annotated[str | None, Query(max_length=64, description="Only runs whose id starts with this.")] = None,
    milestone: Annotated[
        str | None,
        Query(
            max_length=64,
            description="Only runs that reached this milestone: `metric:threshold`, or a metric alone for any "
            "of its thresholds (e.g. `eval_net_profit_over_greedy`).",
        ),
    ] = None,
    sort: Annotated[
        RunSort, Query(description="Order: a field, ascending, or descending with a leading `-`.")
    ] = "-created_at",
    limit: Annotated[int, Query(ge=1, le=500, description="Page size.")] = 50,
    cursor: Annotated[
        str | None, Query(max_length=1024, description="`next_cursor` of the previous page (same sort).")
    ] = None,
) -> RunPage:
    """Runs, newest first unless `sort` says otherwise, one page at a time."""
    try:
        runs, next_cursor = store.page(
            limit=limit,
            cursor=cursor,
            sort=sort,
            status=status_,
            backend=backend,
            run_id_prefix=q,
            milestone=_milestone_filter(milestone),
        )
    except InvalidCursor as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"cursor: {exc}") from exc
    return RunPage(items=[_resource(run, supervisor) for run in runs], next_cursor=next_cursor)


@router.get("/{run_id}", response_model=AnyRunResource, responses=NOT_FOUND)
async def get_run(run_id: RunIdDep, store: StoreDep, supervisor: SupervisorDep) -> AnyRunResource:
    """A run's status, queue position, counters, progress, latest window and checkpoint, and links.
    A run whose run_metadata.json cannot be read has status `corrupt` (it can only be deleted)."""
    run = store.lookup(run_id)
    if run is None:
        raise RunNotFound(f"no run {run_id}")
    return _resource(run, supervisor)


@router.get(
    "/{run_id}/config",
    response_model=TrainConfig,
    responses={**NOT_FOUND, **CONFLICT},
)
async def get_run_config(meta: RunDep, store: StoreDep) -> Response:
    """The run's config.json, as the trainer reads it."""
    return JSONResponse(store.config_json(meta.run_id))


@router.post(
    "/{run_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RunResource,
    responses={**NOT_FOUND, **WRITE},
)
async def cancel_run(run_id: RunIdDep, supervisor: SupervisorDep) -> RunResource:
    """Cancel: a queued run at once; a running one gets SIGTERM, then SIGKILL after the grace."""
    meta = await supervisor.cancel(run_id)
    return _run(meta, supervisor)


@router.post(
    "/{run_id}/resume",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RunResource,
    responses={**NOT_FOUND, **WRITE},
)
async def resume_run(
    run_id: RunIdDep,
    supervisor: SupervisorDep,
    store: StoreDep,
    settings: SettingsDep,
    body: RunResume | None = None,
) -> RunResource:
    """Queue a cancelled, interrupted or failed run again, to continue from its newest saved state.
    With `total_env_steps` (more than the run's current total) the run trains on to that total,
    a completed run included; its windows continue the same grid."""
    total = body.total_env_steps if body is not None else None
    if total is not None:
        meta, config = store.get(run_id), store.read_config(run_id)
        if meta is None:
            raise RunNotFound(f"no run {run_id}")
        if config is None:
            raise RunConflict(f"run {run_id} has no readable config.json")
        if total <= meta.target_env_steps:
            raise body_error(
                "total_env_steps", f"must be more than the run's total_env_steps ({meta.target_env_steps})", total
            )
        extended = {**config.model_dump(), "total_env_steps": total}
        within_limits(lambda: TrainConfig.model_validate(extended, context={"limits": settings.train_limits}))
    meta = await supervisor.resume(run_id, total_env_steps=total)
    return _run(meta, supervisor)


@router.delete("/{run_id}", status_code=status.HTTP_204_NO_CONTENT, responses={**NOT_FOUND, **WRITE})
async def delete_run(run_id: RunIdDep, supervisor: SupervisorDep) -> Response:
    """Remove a finished (or corrupt) run's directory."""
    await supervisor.delete(run_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
