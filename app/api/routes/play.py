"""Play sessions: a person plays the game through the API (or lets a trained policy move)."""

from __future__ import annotations

import secrets
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import PlaySessionsDep, SettingsDep
from app.models import WRITE_ERRORS, ErrorBody
from app.play import InvalidAction
from app.run_errors import RunNotFound
from trainer.rundir import RunPaths

router = APIRouter(prefix="/play", tags=["play"])

SessionId = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$", description="The play session's id.")]
ERRORS = {
    **WRITE_ERRORS,
    404: {"model": ErrorBody, "description": "No such session (closed, expired or never opened), or checkpoint."},
    409: {"model": ErrorBody, "description": "The episode is over (reset the session), or the worker refused."},
    503: {"model": ErrorBody, "description": "The play worker died; its sessions are gone."},
}
TIME_MAX = 20_000


class PlayCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    seed: int | None = Field(None, ge=0, lt=2**64, description="The episode's seed (default: a random one).")
    time_max: int = Field(TIME_MAX, gt=0, le=10_000_000, description="The episode's budget in ticks.")


class PlayStep(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    action: int = Field(description="The action index, 0..68; it must be valid now (see `valid_actions`).")


class PlayAgent(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    run_id: str = Field(description="The run whose checkpoint plays.")
    window_id: int = Field(ge=0, description="The checkpoint's window id.")
    mode: Literal["sample", "argmax"] = Field("argmax", description="How the policy acts.")
    steps: int = Field(1, ge=1, le=10_000_000, description="Steps to take (fewer if the episode ends first).")


def _view(sid: str, view: dict[str, Any]) -> dict[str, Any]:
    return {"session_id": sid, **view}


@router.post("", status_code=status.HTTP_201_CREATED, responses={**ERRORS, 429: {"model": ErrorBody}})
async def start_session(sessions: PlaySessionsDep, response: Response, body: PlayCreate | None = None) -> dict[str, Any]:
    """Open a play session: a new game seeded `seed`. Returns the session id, the observation
    (the 260 spec values, then 24 scouting values), `valid_actions`, and the render `state`
    (as replay frames have it); 429 past PROSPECTOR_PLAY_MAX_SESSIONS."""
    body = body or PlayCreate()
    seed = body.seed if body.seed is not None else secrets.randbits(63)
    session, view = await sessions.start(seed, body.time_max)
    response.headers["Location"] = f"/play/{session.sid}"
    return _view(session.sid, view)


@router.post("/{sid}/step", responses={**ERRORS, 422: {"description": "An invalid action, named, with the valid ones."}})
async def step_session(sid: SessionId, body: PlayStep, sessions: PlaySessionsDep) -> dict[str, Any]:
    """Take one action; the view after it, with its reward, done flags and events."""
    try:
        return _view(sid, await sessions.step(sid, body.action))
    except InvalidAction as exc:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("body", "action"),
                    "msg": f"action {exc.action} is not valid now; valid actions: {exc.valid}",
                    "input": exc.action,
                    "valid_actions": exc.valid,
                }
            ]
        ) from None


@router.post("/{sid}/reset", responses=ERRORS)
async def reset_session(sid: SessionId, sessions: PlaySessionsDep) -> dict[str, Any]:
    """Start the session's game again from its seed."""
    return _view(sid, await sessions.reset(sid))


@router.post("/{sid}/agent", responses=ERRORS)
async def agent_step(sid: SessionId, body: PlayAgent, sessions: PlaySessionsDep, settings: SettingsDep) -> dict[str, Any]:
    """Let a run's checkpoint take the next `steps` steps from the session's state; the view
    after the last, with `steps` listing each (tick, action, reward, events)."""
    try:
        path = RunPaths.of(settings.runs_root, body.run_id).checkpoint(body.window_id)
    except ValueError as exc:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("body", "run_id"), "msg": str(exc), "input": body.run_id}]
        ) from None
    if not path.is_file():
        raise RunNotFound(f"run {body.run_id} has no checkpoint for window {body.window_id}")
    return _view(sid, await sessions.agent(sid, str(path.resolve()), body.mode, body.steps))


@router.delete("/{sid}", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS)
async def close_session(sid: SessionId, sessions: PlaySessionsDep) -> Response:
    """Close the session."""
    await sessions.close(sid)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
