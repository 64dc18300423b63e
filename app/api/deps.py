"""Dependencies shared by the routes: the service's parts, auth, and the run in the path."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BeforeValidator, Field, TypeAdapter

from app.api.stream_token import StreamTokenSigner
from app.core.config import Settings
from app.follower import FollowerRegistry
from app.play import PlaySessions
from app.replaycache import ReplayCache
from app.run_errors import RunConflict, RunNotFound
from app.store import RunStore
from app.supervisor import RunSupervisor
from app.windowlog import WindowLogCache
from trainer.rundir import RUN_ID_PATTERN, RunMetadata, RunPaths, validate_run_id


def _app_state(name: str) -> Callable[[Request], Any]:
    """A dependency that returns the service part `create_app` keeps as `app.state.<name>`."""

    def get(request: Request) -> Any:
        return getattr(request.app.state, name)

    return get


SettingsDep = Annotated[Settings, Depends(_app_state("settings"))]
StoreDep = Annotated[RunStore, Depends(_app_state("store"))]
SupervisorDep = Annotated[RunSupervisor, Depends(_app_state("supervisor"))]
FollowersDep = Annotated[FollowerRegistry, Depends(_app_state("followers"))]
WindowLogsDep = Annotated[WindowLogCache, Depends(_app_state("window_logs"))]
ReplayCacheDep = Annotated[ReplayCache, Depends(_app_state("replay_cache"))]
PlaySessionsDep = Annotated[PlaySessions, Depends(_app_state("play_sessions"))]
StreamTokensDep = Annotated[StreamTokenSigner, Depends(_app_state("stream_tokens"))]

_PLAIN_INTEGER_RE = re.compile(r"-?[0-9]{1,18}")


def _plain_integer(value: Any) -> Any:
    # pydantic reads "1_0" as 10; a window id in a URL or header is plain digits only.
    if isinstance(value, str) and not _PLAIN_INTEGER_RE.fullmatch(value):
        raise ValueError("must be an integer written in plain digits")
    return value


PlainInt = Annotated[int, BeforeValidator(_plain_integer)]
# A window id to read after, -1 meaning from the start (the `after` parameter, `Last-Event-ID`).
AfterWindowId = Annotated[PlainInt, Field(ge=-1)]
AFTER_WINDOW_ID = TypeAdapter(AfterWindowId)
# How many milestone events a stream sent (the `.<n>` of an event id).
MILESTONES_SENT = TypeAdapter(Annotated[PlainInt, Field(ge=0)])

_bearer = HTTPBearer(auto_error=False, description="Needed when the server has an API token.")


def _bearer_ok(settings: Settings, credentials: HTTPAuthorizationCredentials | None) -> bool:
    token = settings.token
    if token is None:
        return True
    return credentials is not None and secrets.compare_digest(credentials.credentials.encode(), token.encode())


def require_token(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """401 unless auth is off or the request carries `Authorization: Bearer <token>`."""
    if not _bearer_ok(settings, credentials):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or wrong bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )


def require_token_or_stream_token(
    settings: SettingsDep,
    signer: StreamTokensDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    token: Annotated[
        str | None,
        Query(max_length=128, description="A token from POST /auth/sse-token, for clients that cannot "
              "send Authorization (a browser's EventSource)."),
    ] = None,
) -> None:
    """For read-only GETs a browser makes by URL: the bearer token, or a valid `?token=`."""
    if _bearer_ok(settings, credentials):
        return
    if token is not None and signer.valid(token):
        return
    detail = "missing or wrong bearer token" if token is None else "token: expired or not issued by this server"
    raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})


def _run_id(run_id: Annotated[str, Path(pattern=RUN_ID_PATTERN, description="The run's id.")]) -> str:
    try:
        return validate_run_id(run_id)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"run_id: {exc}") from exc


RunIdDep = Annotated[str, Depends(_run_id)]


def _existing_run(run_id: RunIdDep, store: StoreDep) -> RunMetadata:
    run = store.lookup(run_id)
    if run is None:
        raise RunNotFound(f"no run {run_id}")
    if not isinstance(run, RunMetadata):
        raise RunConflict(f"run {run_id} is corrupt ({run.error}); it can only be deleted")
    return run


def _run_paths(run_id: RunIdDep, store: StoreDep) -> RunPaths:
    return store.paths(run_id)


RunDep = Annotated[RunMetadata, Depends(_existing_run)]
RunPathsDep = Annotated[RunPaths, Depends(_run_paths)]
