"""The app factory: wires settings, store, supervisor and followers into a FastAPI app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.trustedhost import TrustedHostMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from app import __version__
from app.api.body_limit import BodySizeLimitMiddleware
from app.api.content_type import JsonBodyMiddleware
from app.api.deps import require_token, require_token_or_stream_token
from app.api.errors import validation_error_handler
from app.api.head import HeadMiddleware
from app.api.origin import SameOriginMiddleware
from app.api.routes import auth, checkpoints, dashboard, docs, events, health, logs, metrics, play, replays, runs
from app.api.stream_token import StreamTokenSigner
from app.core.config import Settings
from app.follower import FollowerRegistry
from app.launcher import Launcher, LocalSubprocessLauncher
from app.models import AUTH_ERRORS
from app.play import PlayError, PlaySessions, PlayWorker
from app.ray_jobs import RayJobsClient
from app.ray_launcher import RayJobLauncher
from app.replaycache import ReplayCache
from app.run_errors import RunConflict, RunNotFound
from app.store import RunStore
from app.supervisor import RunSupervisor
from app.windowlog import WindowLogCache


def make_launcher(settings: Settings) -> Launcher:
    """The launcher `settings.launcher` names: local subprocesses, or jobs on a Ray cluster."""
    if settings.launcher == "ray":
        token = settings.ray_token.get_secret_value() if settings.ray_token is not None else None
        return RayJobLauncher(
            RayJobsClient(settings.ray_address, token=token),
            settings.trainer_command,
            threads=settings.trainer_threads,
            stop_grace_s=settings.stop_grace_s,
            num_cpus=settings.ray_entrypoint_num_cpus,
            poll_s=settings.supervise_poll_s,
            head_timeout_s=settings.ray_head_timeout_s,
        )
    return LocalSubprocessLauncher(settings.trainer_command, threads=settings.trainer_threads)


def create_app(settings: Settings, launcher: Launcher | None = None) -> FastAPI:
    """Build the service for `settings`; `launcher` defaults to the one the settings name."""
    store = RunStore(settings.runs_root)
    launcher = launcher or make_launcher(settings)
    supervisor = RunSupervisor(store, launcher, settings)
    followers = FollowerRegistry(
        settings.follow_poll_s,
        settings.subscriber_queue_size,
        watch=settings.follow_watch,
        watch_step_s=settings.follow_watch_step_s,
    )

    play_sessions = PlaySessions(PlayWorker(), settings.play_max_sessions, settings.play_idle_s)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.runs_root.mkdir(parents=True, exist_ok=True)
        if isinstance(launcher, RayJobLauncher):
            await launcher.check_head()
        await supervisor.start()
        try:
            yield
        finally:
            await followers.close()
            await supervisor.close()
            await play_sessions.worker.close()

    app = FastAPI(
        title="Asteroid Prospector training service",
        version=__version__,
        description="Launch, supervise and follow training runs. Every run is a directory under the run root.",
        lifespan=lifespan,
        docs_url=None,  # served by app.api.routes.docs, behind the token, with local assets
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.supervisor = supervisor
    app.state.followers = followers
    app.state.window_logs = WindowLogCache()
    app.state.replay_cache = ReplayCache()
    app.state.play_sessions = play_sessions
    app.state.stream_tokens = StreamTokenSigner.for_api_token(settings.token, settings.sse_token_ttl_s)

    app.include_router(health.router)
    bearer = [Depends(require_token)]
    bearer_or_query_token = [Depends(require_token_or_stream_token)]
    for module in (runs, metrics, checkpoints, replays, play, auth):
        app.include_router(module.router, dependencies=bearer, responses=AUTH_ERRORS)
    for module in (events, logs):
        app.include_router(module.router, dependencies=bearer_or_query_token, responses=AUTH_ERRORS)
    app.include_router(docs.router, dependencies=bearer_or_query_token)
    app.mount(docs.ASSETS_URL, StaticFiles(directory=docs.ASSETS_DIR), name="docs-assets")
    app.include_router(dashboard.router)
    app.mount(dashboard.STATIC_URL, StaticFiles(directory=dashboard.STATIC_DIR), name="dashboard")

    app.add_exception_handler(RequestValidationError, validation_error_handler)  # type: ignore[arg-type]

    @app.exception_handler(PlayError)
    async def _play_error(request: Request, exc: PlayError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    @app.exception_handler(RunNotFound)
    async def _not_found(request: Request, exc: RunNotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_404_NOT_FOUND)

    @app.exception_handler(RunConflict)
    async def _conflict(request: Request, exc: RunConflict) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_409_CONFLICT)

    # Added innermost first: a request meets TrustedHost, then HEAD, CORS, the origin check,
    # the body size cap and the JSON body check.
    app.add_middleware(JsonBodyMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(SameOriginMiddleware, allowed_origins=settings.cors_origins)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "HEAD", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
            expose_headers=["Location"],
        )
    app.add_middleware(HeadMiddleware)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.trusted_hosts)
    return app
