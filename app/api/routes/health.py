"""Liveness and a summary of the run store (no auth)."""

from __future__ import annotations

import shutil
from collections import Counter

from fastapi import APIRouter

from app import __version__
from app.api.deps import StoreDep
from app.models import Health
from app.store import CORRUPT
from trainer.rundir import RunStatus

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
async def health(store: StoreDep) -> Health:
    """Service status, version, runs by status and free disk under the run root (whose path it
    does not tell: this route needs no token)."""
    counts = Counter(meta.status.value for meta in store.all())
    by_status = {s.value: counts.get(s.value, 0) for s in RunStatus}
    by_status[CORRUPT] = len(store.corrupt())
    return Health(
        status="ok",
        version=__version__,
        runs_by_status=by_status,
        disk_free_bytes=shutil.disk_usage(store.root).free,
    )
