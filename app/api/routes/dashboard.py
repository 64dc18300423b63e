"""The dashboard: a static single-page app (app/static) served at `/` by this server."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC_URL = "/static"
STATIC_DIR = Path(__file__).resolve().parents[2] / "static"

router = APIRouter(include_in_schema=False)


@router.get("/")
async def dashboard() -> FileResponse:
    """The dashboard's page. It holds no data, so it needs no token; the API calls it makes do."""
    return FileResponse(STATIC_DIR / "index.html")
