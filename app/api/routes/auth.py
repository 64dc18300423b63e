"""Tokens for browser clients that cannot send `Authorization`."""

from __future__ import annotations

import time

from fastapi import APIRouter

from app.api.deps import StreamTokensDep
from app.models import WRITE_ERRORS, StreamToken

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/sse-token", response_model=StreamToken, responses=WRITE_ERRORS)
async def issue_sse_token(signer: StreamTokensDep) -> StreamToken:
    """A short-lived, read-only token for `?token=` on the GET routes a browser opens by URL: the
    event stream (EventSource cannot send headers), the log, and the API docs. A stream opened in
    time stays open past the expiry; a reconnect after it needs a new token."""
    now = time.time()
    token, expires = signer.issue(now)
    return StreamToken(token=token, expires_at=expires, expires_in_s=round(expires - now, 3))
