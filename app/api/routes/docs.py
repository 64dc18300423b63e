"""The OpenAPI schema and its viewers (Swagger UI at /docs, ReDoc at /redoc), with their scripts
served by this server (from the fastapi-offline package), so the pages work with no network."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

ASSETS_URL = "/docs-assets"
ASSETS_DIR = Path(str(files("fastapi_offline") / "static"))

router = APIRouter(include_in_schema=False)

TokenQuery = Annotated[str | None, Query(max_length=128)]


def _schema_url(token: str | None) -> str:
    """The schema's URL for the viewer's script, carrying the page's `?token=` along."""
    return "/openapi.json" + (f"?{urlencode({'token': token})}" if token else "")


@router.get("/openapi.json")
async def openapi_schema(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/docs")
async def swagger_ui(request: Request, token: TokenQuery = None) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=_schema_url(token),
        title=f"{request.app.title} - Swagger UI",
        swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
        oauth2_redirect_url=None,
        swagger_ui_parameters={"validatorUrl": None},
    )


@router.get("/redoc")
async def redoc(request: Request, token: TokenQuery = None) -> HTMLResponse:
    return get_redoc_html(
        openapi_url=_schema_url(token),
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
        redoc_favicon_url=f"{ASSETS_URL}/favicon.png",
        with_google_fonts=False,
    )
