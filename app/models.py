"""The HTTP API's request and response models (all of them appear in the OpenAPI schema)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from app.store import CorruptRun
from trainer.config import TrainConfig, TrainLimits
from trainer.rundir import (
    RUN_ID_PATTERN,
    TERMINAL_STATUSES,
    Collapse,
    ErrorKind,
    LatestCheckpoint,
    MilestoneReached,
    ReplayEntry,
    RunMetadata,
    RunStatus,
    validate_run_id,
)
from trainer.window_record import WindowRecord


class RunCreate(TrainConfig):
    """`POST /runs` body: the trainer's TrainConfig plus an optional run id (generated if absent).

    `window_env_steps` must not exceed `total_env_steps` (422 naming `window_env_steps`). The
    body is checked against each field's own range here; the route then checks it against the
    operator's TrainLimits (`train_config`), which may be wider or narrower than the defaults.
    """

    run_id: str | None = Field(
        None,
        pattern=RUN_ID_PATTERN,
        description="Run id (directory name); reuse one to retry a POST safely.",
    )

    @field_validator("run_id")
    @classmethod
    def _safe_run_id(cls, value: str | None) -> str | None:
        return None if value is None else validate_run_id(value)

    @classmethod
    def limits(cls, info: ValidationInfo) -> TrainLimits | None:
        return (info.context or {}).get("limits")

    def train_config(self, limits: TrainLimits) -> TrainConfig:
        """The TrainConfig part of the body, within `limits` (pydantic's ValidationError if not)."""
        return TrainConfig.model_validate(self.model_dump(exclude={"run_id"}), context={"limits": limits})


class RunResume(BaseModel):
    """`POST /runs/{run_id}/resume` body, optional."""

    model_config = ConfigDict(extra="forbid", strict=True)

    total_env_steps: int | None = Field(
        None,
        gt=0,
        description="Train on to this many env steps, more than the run's current total; windows continue "
        "the run's grid. The way to extend a completed run.",
    )


class RunLinks(BaseModel):
    """Where to find everything about one run."""

    self: str
    config: str
    events: str
    metrics: str
    checkpoints: str
    replays: str
    logs: str
    cancel: str
    resume: str


class RayJobPlacement(BaseModel):
    """The Ray job of a run's latest launch by the `ray` launcher."""

    submission_id: str = Field(description="`<run_id>.<attempt>`: the job's id in Ray (`ray job status <id>`).")
    status: str | None = Field(
        description="The job's Ray status as this server last polled it (PENDING, RUNNING, STOPPED, "
        "SUCCEEDED, FAILED); null until then."
    )
    node_id: str | None = Field(description="The Ray node that runs (or ran) the trainer; null until it starts.")
    node_address: str | None = Field(description="That node's IP address.")


class RunResource(BaseModel):
    """One training run as the service sees it (from its run_metadata.json)."""

    run_id: str = Field(description="The run's id: its directory name under the run root.")
    status: RunStatus = Field(
        description="queued → starting → running → completed | failed | cancelled | interrupted "
        "(interrupted: the trainer vanished without writing a final status)."
    )
    queue_position: int | None = Field(
        None, description="1 = next to start; null unless the run is queued."
    )
    trainer_backend: str = Field(description="The trainer backend: `random` or `puffer_ppo`.")
    seed: int = Field(description="The run's seed.")
    env_reward: str | None = Field(
        description="The reward profile the run trains on: `profit` or `original`; null for runs made "
        "before reward profiles existed (they trained on `original`)."
    )
    target_env_steps: int = Field(description="The config's total_env_steps: the run completes there.")
    window_env_steps: int = Field(description="Env steps per metrics window.")
    env_steps_total: int = Field(description="Env steps trained so far, summed over the envs.")
    ticks_total: int = Field(description="Game ticks that passed so far.")
    episodes_total: int = Field(description="Episodes that ended so far.")
    windows_emitted: int = Field(description="Window records written to metrics/windows.jsonl.")
    checkpoints_written: int = Field(description="Checkpoint files written.")
    progress: float = Field(description="env_steps_total / target_env_steps, from 0 to 1.")
    eta_s: float | None = Field(
        description="Seconds left to target_env_steps at the latest window's sps; null unless the "
        "run is starting or running and has a window."
    )
    latest_window: WindowRecord | None = Field(
        description="The newest window record; null before the first. A run stopped inside a window "
        "shows that window's progress so far (window_complete false; it is not in the metrics)."
    )
    latest_checkpoint: LatestCheckpoint | None = Field(description="The newest checkpoint; null before the first.")
    latest_replay: ReplayEntry | None = Field(
        None, description="The newest recorded evaluation replay (its replay_index.json entry); null before the first."
    )
    milestones_reached: list[MilestoneReached] = Field(
        [], description="Each milestone the run reached: metric, threshold, window_id, env_steps, value, time."
    )
    wandb_run_url: str | None = Field(description="The W&B run page, when W&B logging is on.")
    collapse: Collapse | None = Field(
        description="Set at the first window whose episodes shrank to a few steps (the policy learned to "
        "end episodes at once): its window, env steps, mean episode length and cash-out rate; null otherwise."
    )
    error: str | None = Field(
        description="Why the run failed, was cancelled or interrupted (a failure ends with the "
        "trainer log's last lines); null otherwise."
    )
    error_kind: ErrorKind | None = Field(
        description="What kind of failure `error` describes (README: Exit codes and error kinds); null "
        "when the run has none."
    )
    exit_code: int | None = Field(
        description="The trainer's exit status: 0 completed, 1 failed, 2 bad config, 128+N stopped by "
        "signal N, -N killed by signal N (as the server saw it); null while unknown."
    )
    created_at: str = Field(description="UTC ISO-8601 time the run was created.")
    started_at: str | None = Field(description="UTC ISO-8601 time training (last) started.")
    updated_at: str = Field(description="UTC ISO-8601 time of the last change to run_metadata.json.")
    finished_at: str | None = Field(description="UTC ISO-8601 time the run reached a final status.")
    launcher: Literal["local", "ray"] | None = Field(
        None, description="What started the run's trainer last: `local` (a subprocess of the server's "
        "machine) or `ray` (a Ray job); null before its first start."
    )
    ray_job: RayJobPlacement | None = Field(None, description="Where the run runs on Ray; null unless `launcher` is `ray`.")
    links: RunLinks = Field(description="URLs of the run's sub-resources and actions.")


class CorruptRunResource(BaseModel):
    """A run directory whose run_metadata.json cannot be read; it can only be deleted."""

    run_id: str = Field(description="The run's id: its directory name under the run root.")
    status: Literal["corrupt"] = "corrupt"
    error: str = Field(description="Why run_metadata.json was refused.")
    created_at: str = Field(description="The file's modification time (the run's own times are unreadable).")
    updated_at: str = Field(description="The file's modification time.")
    links: RunLinks = Field(description="URLs of the run's sub-resources and actions.")


AnyRunResource = RunResource | CorruptRunResource


class RunPage(BaseModel):
    """A page of runs in the requested order; pass `next_cursor` as `cursor` for the next page."""

    items: list[AnyRunResource]
    next_cursor: str | None


class MetricsPage(BaseModel):
    """Window records after `after`; pass `next_after` as `after` to continue."""

    items: list[WindowRecord]
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
    runs_by_status: dict[str, int] = Field(description="Run count per status, `corrupt` included.")
    disk_free_bytes: int = Field(description="Free bytes on the run root's filesystem.")


class StreamToken(BaseModel):
    """A short-lived token for `?token=` on GET routes a browser opens by URL (EventSource)."""

    token: str
    expires_at: int = Field(description="Unix time after which the token is refused.")
    expires_in_s: float


class ErrorBody(BaseModel):
    """Every 4xx/5xx body except validation errors (those carry FastAPI's field list)."""

    detail: str


# Responses a route can give before its handler runs, for OpenAPI: every route behind the token,
# and every route that changes state.
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or wrong bearer token (or `?token=` where accepted)."},
}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {
        "model": ErrorBody,
        "description": "Sent by a page whose origin is neither this server's nor in PROSPECTOR_CORS_ORIGINS.",
    },
    413: {"model": ErrorBody, "description": "A body over PROSPECTOR_MAX_BODY_BYTES."},
    415: {"model": ErrorBody, "description": "A body that is not application/json."},
}
# The statuses of app.run_errors, for every route that can raise them.
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such run, or no such file of it (the detail says which)."},
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {
        "model": ErrorBody,
        "description": "The run's state does not allow it, or a file it needs is unreadable (the detail says which).",
    },
}


def _links(run_id: str) -> RunLinks:
    base = f"/runs/{run_id}"
    return RunLinks(
        self=base,
        config=f"{base}/config",
        events=f"{base}/events",
        metrics=f"{base}/metrics",
        checkpoints=f"{base}/checkpoints",
        replays=f"{base}/replays",
        logs=f"{base}/logs",
        cancel=f"{base}/cancel",
        resume=f"{base}/resume",
    )


def _eta_s(meta: RunMetadata) -> float | None:
    if meta.status in TERMINAL_STATUSES or meta.status == RunStatus.queued or meta.latest_window is None:
        return None
    sps = meta.latest_window.get("sps")
    if not isinstance(sps, int | float) or sps <= 0:
        return None
    return round(max(meta.target_env_steps - meta.env_steps_total, 0) / sps, 1)


def run_resource(
    meta: RunMetadata, queue_position: int | None, ray_job: RayJobPlacement | None = None
) -> RunResource:
    """The API view of a run's metadata (and of its Ray job, when it has one)."""
    derived = {"links", "queue_position", "progress", "eta_s", "ray_job"}
    fields = meta.model_dump(include=set(RunResource.model_fields) - derived)
    progress = min(meta.env_steps_total / meta.target_env_steps, 1.0) if meta.target_env_steps > 0 else 0.0
    return RunResource(
        **fields,
        queue_position=queue_position,
        progress=progress,
        eta_s=_eta_s(meta),
        ray_job=ray_job,
        links=_links(meta.run_id),
    )


def corrupt_run_resource(run: CorruptRun) -> CorruptRunResource:
    """The API view of a run whose metadata cannot be read."""
    return CorruptRunResource(
        run_id=run.run_id,
        error=run.error,
        created_at=run.created_at,
        updated_at=run.updated_at,
        links=_links(run.run_id),
    )
