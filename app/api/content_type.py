"""ASGI middleware that refuses request bodies that are not declared JSON with 415."""

from __future__ import annotations

from starlette import status
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.origin import STATE_CHANGING_METHODS


def is_json(content_type: str | None) -> bool:
    """`application/json` or `application/<anything>+json`, parameters (charset) allowed."""
    if content_type is None:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


class JsonBodyMiddleware:
    """415 for a POST/PUT/PATCH/DELETE that carries a body without a JSON `Content-Type`.

    Every request body of this API is JSON; refusing the rest up front also closes the CSRF
    path of "simple" cross-site requests (text/plain and form bodies need no CORS preflight).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in STATE_CHANGING_METHODS:
            headers = Headers(scope=scope)
            has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
            content_type = headers.get("content-type")
            if has_body and not is_json(content_type):
                detail = f"Content-Type: request bodies must be application/json, not {content_type or 'absent'}"
                response = JSONResponse({"detail": detail}, status.HTTP_415_UNSUPPORTED_MEDIA_TYPE)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
