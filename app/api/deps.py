"""Dependencies shared by the routes: the service's parts, auth, and the run in the path."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.core.config import Settings
from app.follower import FollowerRegistry
from app.store import RunStore
from app.supervisor import RunSupervisor
from app.windowlog import WindowLogCache
from trainer.rundir import RUN_ID_PATTERN, RunMetadata, RunPaths, validate_run_id


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_store(request: Request) -> RunStore:
    return request.app.state.store


def get_supervisor(request: Request) -> RunSupervisor:
    return request.app.state.supervisor


def get_followers(request: Request) -> FollowerRegistry:
    return request.app.state.followers


def get_window_logs(request: Request) -> WindowLogCache:
    return request.app.state.window_logs


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[RunStore, Depends(get_store)]
SupervisorDep = Annotated[RunSupervisor, Depends(get_supervisor)]
FollowersDep = Annotated[FollowerRegistry, Depends(get_followers)]
WindowLogsDep = Annotated[WindowLogCache, Depends(get_window_logs)]

_bearer = HTTPBearer(auto_error=False, description="Needed when the server has an API token.")


def require_token(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """401 unless auth is off or the request carries `Authorization: Bearer <token>`."""
    token = settings.token
    if token is None:
        return
    if credentials is None or not secrets.compare_digest(credentials.credentials.encode(), token.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or wrong bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )


def _run_id(run_id: Annotated[str, Path(pattern=RUN_ID_PATTERN, description="The run's id.")]) -> str:
    try:
        return validate_run_id(run_id)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"run_id: {exc}") from exc


RunIdDep = Annotated[str, Depends(_run_id)]


def _existing_run(run_id: RunIdDep, store: StoreDep) -> RunMetadata:
    meta = store.get(run_id)
    if meta is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no run {run_id}")
    return meta


def _run_paths(run_id: RunIdDep, store: StoreDep) -> RunPaths:
    return store.paths(run_id)


RunDep = Annotated[RunMetadata, Depends(_existing_run)]
RunPathsDep = Annotated[RunPaths, Depends(_run_paths)]
