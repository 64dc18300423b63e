"""The HTTP API's request and response models (all of them appear in the OpenAPI schema)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator

from trainer.config import TrainConfig
from trainer.rundir import RUN_ID_PATTERN, LatestCheckpoint, RunMetadata, RunStatus, validate_run_id


class RunCreate(TrainConfig):
    """`POST /runs` body: the trainer's TrainConfig plus an optional run id (generated if absent)."""

    run_id: str | None = Field(
        None,
        pattern=RUN_ID_PATTERN,
        description="Run id (directory name); reuse one to retry a POST safely.",
    )

    @field_validator("run_id")
    @classmethod
    def _safe_run_id(cls, value: str | None) -> str | None:
        return None if value is None else validate_run_id(value)

    def train_config(self) -> TrainConfig:
        """The TrainConfig part of the body."""
        return TrainConfig.model_validate(self.model_dump(exclude={"run_id"}))


class RunLinks(BaseModel):
    """Where to find everything about one run."""

    self: str
    events: str
    metrics: str
    checkpoints: str
    logs: str
    cancel: str
    resume: str


class RunResource(BaseModel):
    """One training run as the service sees it (from its run_metadata.json)."""

    run_id: str
    status: RunStatus
    queue_position: int | None = Field(
        None, description="1 = next to start; null unless the run is queued."
    )
    trainer_backend: str
    seed: int
    target_env_steps: int
    window_env_steps: int
    env_steps_total: int
    ticks_total: int
    episodes_total: int
    windows_emitted: int
    checkpoints_written: int
    latest_window: dict[str, Any] | None
    latest_checkpoint: LatestCheckpoint | None
    wandb_run_url: str | None
    error: str | None
    exit_code: int | None
    created_at: str
    started_at: str | None
    updated_at: str
    finished_at: str | None
    links: RunLinks


class RunPage(BaseModel):
    """A page of runs, newest first; pass `next_cursor` as `cursor` for the next page."""

    items: list[RunResource]
    next_cursor: str | None


class MetricsPage(BaseModel):
    """Window records after `after`; pass `next_after` as `after` to continue."""

    items: list[dict[str, Any]]
    next_after: int


class CheckpointInfo(BaseModel):
    """One checkpoint file of a run."""

    window_id: int
    size_bytes: int
    url: str


class CheckpointList(BaseModel):
    items: list[CheckpointInfo]


class Health(BaseModel):
    """Liveness and a summary of the run store."""

    status: str
    version: str
    runs_by_status: dict[str, int]
    disk_free_bytes: int
    runs_root: str


class ErrorBody(BaseModel):
    """Every 4xx/5xx body except validation errors (those carry FastAPI's field list)."""

    detail: str


def run_resource(meta: RunMetadata, queue_position: int | None) -> RunResource:
    """The API view of a run's metadata."""
    base = f"/runs/{meta.run_id}"
    links = RunLinks(
        self=base,
        events=f"{base}/events",
        metrics=f"{base}/metrics",
        checkpoints=f"{base}/checkpoints",
        logs=f"{base}/logs",
        cancel=f"{base}/cancel",
        resume=f"{base}/resume",
    )
    fields = meta.model_dump(include=set(RunResource.model_fields) - {"links", "queue_position"})
    return RunResource(**fields, queue_position=queue_position, links=links)
