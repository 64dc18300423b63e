"""Service settings: read from `PROSPECTOR_*` environment variables or given to `create_app`."""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the service can be told at start-up. Each field is also a `python -m app` flag."""

    model_config = SettingsConfigDict(env_prefix="PROSPECTOR_", extra="forbid")

    runs_root: Path = Field(Path("runs"), description="Directory holding one sub-directory per run.")
    host: str = Field("127.0.0.1", description="Address to bind; non-loopback needs an API token.")
    port: int = Field(8000, ge=0, le=65535, description="TCP port to bind (0 picks a free one).")
    api_token: SecretStr | None = Field(
        None, description="Bearer token required on every route but /health; unset = no auth."
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Comma-separated origins allowed by CORS; empty = none."
    )
    max_concurrent_runs: int = Field(1, gt=0, description="Trainers running at once; the rest queue.")
    trainer_threads: int = Field(
        1, gt=0, description="OMP/MKL/OpenBLAS/numba thread limit given to each trainer process."
    )
    trainer_command: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [sys.executable, "-m", "trainer"],
        description="argv prefix that starts a trainer (space-separated in env/flags).",
    )
    stop_grace_s: float = Field(
        10.0, ge=0, description="Seconds between SIGTERM and SIGKILL when cancelling a run."
    )
    log_max_bytes: int = Field(
        10 * 1024 * 1024, ge=4096, description="Cap on logs/trainer.log; older output moves to .1."
    )
    max_body_bytes: int = Field(64 * 1024, ge=1024, description="Largest request body accepted.")
    follow_poll_s: float = Field(
        0.005, gt=0, description="How often a live run's follower checks its files for news."
    )
    supervise_poll_s: float = Field(
        0.5, gt=0, description="How often the supervisor checks adopted runs and log sizes."
    )
    subscriber_queue_size: int = Field(
        1024, gt=0, description="Events buffered per SSE client before a slow client is dropped."
    )
    sse_ping_s: float = Field(15.0, gt=0, description="Seconds between SSE keep-alive comments.")

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("trainer_command", mode="before")
    @classmethod
    def _split_command(cls, value: Any) -> Any:
        if isinstance(value, str):
            return value.split()
        return value

    @field_validator("trainer_command")
    @classmethod
    def _command_not_empty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("trainer_command must name a program")
        return value

    @property
    def token(self) -> str | None:
        """The API token in clear, or None when auth is off."""
        return self.api_token.get_secret_value() if self.api_token else None

    def bind_problem(self) -> str | None:
        """Why serving on `host` is refused (non-loopback without a token), or None if it is fine."""
        if self.token:
            return None
        if self.host == "localhost":
            return None
        try:
            loopback = ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            loopback = False
        if loopback:
            return None
        return (
            f"refusing to bind {self.host}: a non-loopback address needs PROSPECTOR_API_TOKEN "
            "(or --api-token)"
        )
