"""ASGI middleware against cross-site request forgery: a state-changing request sent by a page of
a foreign origin gets 403.

CORS alone does not stop it: a "simple" cross-origin POST (a form, or `fetch` with a text/plain
body) reaches the route without a preflight, and only its response is hidden from the page.
Browsers send `Origin` on every cross-origin POST/DELETE; older ones only `Referer`.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from starlette import status
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

STATE_CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class SameOriginMiddleware:
    """403 for a POST/PUT/PATCH/DELETE whose `Origin` (or, without one, `Referer`) is neither this
    server's own origin nor in `allowed_origins`. A request with neither header (curl, scripts)
    was not sent by a browser page and passes."""

    def __init__(self, app: ASGIApp, allowed_origins: Sequence[str]) -> None:
        self.app = app
        self.allowed_origins = frozenset(origin.rstrip("/").lower() for origin in allowed_origins)
        self.allow_any = "*" in self.allowed_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in STATE_CHANGING_METHODS:
            headers = Headers(scope=scope)
            origin = request_origin(headers)
            if origin is not None and not self._allowed(origin, scope, headers):
                detail = (
                    f"cross-origin request from {origin} refused: state-changing requests must come "
                    "from this server's own origin or one listed in PROSPECTOR_CORS_ORIGINS"
                )
                await JSONResponse({"detail": detail}, status.HTTP_403_FORBIDDEN)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _allowed(self, origin: str, scope: Scope, headers: Headers) -> bool:
        own = f"{scope['scheme']}://{headers.get('host', '')}".lower()
        return self.allow_any or origin == own or origin in self.allowed_origins


def request_origin(headers: Headers) -> str | None:
    """The origin a browser says the request comes from (`null` when it hides it), or None if the
    request carries neither `Origin` nor `Referer`."""
    origin = headers.get("origin")
    if origin is not None:
        return origin.strip().lower()
    referer = headers.get("referer")
    if referer is None:
        return None
    parts = urlsplit(referer.strip())
    if not parts.scheme or not parts.netloc:
        return "null"
    return f"{parts.scheme}://{parts.netloc}".lower()

