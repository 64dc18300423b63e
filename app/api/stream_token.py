"""Short-lived signed tokens for browser GETs that cannot send `Authorization` (EventSource).

A token is `<expiry unix seconds>.<HMAC-SHA256 of it, base64url>`. The HMAC key is derived from
the API token, so tokens survive a server restart and die with a token change; with auth off,
a random key per process is used (tokens are then not needed, but the route still works).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@dataclass(frozen=True)
class StreamTokenSigner:
    """Issues and checks tokens valid for `ttl_s` seconds."""

    key: bytes
    ttl_s: float

    @classmethod
    def for_api_token(cls, api_token: str | None, ttl_s: float) -> StreamTokenSigner:
        """A signer keyed on the API token (domain-separated), or on random bytes without one."""
        secret = api_token.encode() if api_token is not None else secrets.token_bytes(32)
        return cls(hmac.new(secret, b"prospector stream token v1", hashlib.sha256).digest(), ttl_s)

    def _signature(self, expires: int) -> str:
        return _b64(hmac.new(self.key, str(expires).encode(), hashlib.sha256).digest())

    def issue(self, now: float | None = None) -> tuple[str, int]:
        """A new token and its expiry (unix seconds)."""
        expires = int((time.time() if now is None else now) + self.ttl_s)
        return f"{expires}.{self._signature(expires)}", expires

    def valid(self, token: str, now: float | None = None) -> bool:
        """True for a token this signer issued that has not expired."""
        expires_text, _, signature = token.partition(".")
        if not expires_text.isascii() or not expires_text.isdigit() or len(expires_text) > 12:
            return False
        expires = int(expires_text)
        if not hmac.compare_digest(signature.encode(), self._signature(expires).encode()):
            return False
        return (time.time() if now is None else now) < expires
