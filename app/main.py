"""The app factory: wires settings, store, supervisor and followers into a FastAPI app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request, status
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from app import __version__
from app.api.body_limit import BodySizeLimitMiddleware
from app.api.deps import require_token
from app.api.routes import checkpoints, events, health, logs, metrics, runs
from app.core.config import Settings
from app.follower import FollowerRegistry
from app.launcher import Launcher, LocalSubprocessLauncher
from app.store import RunStore
from app.supervisor import RunConflict, RunNotFound, RunSupervisor
from app.windowlog import WindowLogCache


def create_app(settings: Settings, launcher: Launcher | None = None) -> FastAPI:
    """Build the service for `settings`; `launcher` defaults to local trainer subprocesses."""
    store = RunStore(settings.runs_root)
    supervisor = RunSupervisor(
        store,
        launcher or LocalSubprocessLauncher(settings.trainer_command, threads=settings.trainer_threads),
        settings,
    )
    followers = FollowerRegistry(settings.follow_poll_s, settings.subscriber_queue_size)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.runs_root.mkdir(parents=True, exist_ok=True)
        await supervisor.start()
        try:
            yield
        finally:
            await followers.close()
            await supervisor.close()

    app = FastAPI(
        title="Asteroid Prospector training service",
        version=__version__,
        description="Launch, supervise and follow training runs. Every run is a directory under the run root.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.supervisor = supervisor
    app.state.followers = followers
    app.state.window_logs = WindowLogCache()

    app.include_router(health.router)
    protected = [Depends(require_token)]
    for module in (runs, events, metrics, checkpoints, logs):
        app.include_router(module.router, dependencies=protected)

    @app.exception_handler(RunNotFound)
    async def _not_found(request: Request, exc: RunNotFound) -> JSONResponse:
        return JSONResponse({"detail": f"no run {exc}"}, status_code=status.HTTP_404_NOT_FOUND)

    @app.exception_handler(RunConflict)
    async def _conflict(request: Request, exc: RunConflict) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_409_CONFLICT)

    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
        )
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    return app
