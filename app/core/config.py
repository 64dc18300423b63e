"""Service settings: read from `PROSPECTOR_*` environment variables or given to `create_app`."""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from trainer.config import TrainLimits
from trainer.logs import LOG_MAX_BYTES, MIN_LOG_MAX_BYTES

MIN_REMOTE_TOKEN_CHARS = 16


class Settings(BaseSettings):
    """Everything the service can be told at start-up. Each field is also a `python -m app` flag."""

    model_config = SettingsConfigDict(env_prefix="PROSPECTOR_", extra="forbid")

    runs_root: Path = Field(Path("runs"), description="Directory holding one sub-directory per run.")
    host: str = Field("127.0.0.1", description="Address to bind; non-loopback needs an API token.")
    port: int = Field(8000, ge=0, le=65535, description="TCP port to bind (0 picks a free one).")
    api_token: SecretStr | None = Field(
        None,
        description="Bearer token required on every route but /health; unset = no auth. "
        "Environment only (no flag: argv is visible in `ps`); or use api_token_file.",
    )
    api_token_file: Path | None = Field(
        None, description="File whose content (stripped) is the API token; instead of PROSPECTOR_API_TOKEN."
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated Host header names accepted (DNS-rebinding guard); "
        "empty = localhost, 127.0.0.1, [::1] and the bind address.",
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
        LOG_MAX_BYTES,
        ge=MIN_LOG_MAX_BYTES,
        description="Cap on logs/trainer.log + trainer.log.1, passed to each trainer (--log-max-bytes), which keeps it.",
    )
    max_body_bytes: int = Field(64 * 1024, ge=1024, description="Largest request body accepted.")
    follow_watch: bool = Field(
        True, description="Follow live runs' files through inotify (watchfiles); off = stat-poll only."
    )
    follow_watch_step_s: float = Field(
        0.002, ge=0.001, description="The file watcher's wake-up step: latency of an event, idle cost."
    )
    follow_poll_s: float = Field(
        1.0, gt=0, description="How often followed runs' files are stat-polled (the watcher's fallback)."
    )
    supervise_poll_s: float = Field(
        0.5, gt=0, description="How often the supervisor checks adopted runs and log sizes."
    )
    subscriber_queue_size: int = Field(
        1024, gt=0, description="Events buffered per SSE client before a slow client is dropped."
    )
    play_max_sessions: int = Field(16, gt=0, le=10_000, description="Play sessions open at once; one more gets 429.")
    play_idle_s: float = Field(600.0, gt=0, description="Seconds without a request after which a play session is closed.")
    sse_ping_s: float = Field(15.0, gt=0, description="Seconds between SSE keep-alive comments.")
    sse_send_timeout_s: float | None = Field(
        None,
        gt=0,
        description="An SSE client whose socket takes longer to accept a send is dropped; unset = never "
        "(each send then costs a timer).",
    )
    sse_token_ttl_s: float = Field(
        300.0, gt=0, le=86400, description="Lifetime of a signed query token from POST /auth/sse-token."
    )
    launcher: Literal["local", "ray"] = Field(
        "local", description="How trainers start: `local` subprocesses, or `ray` jobs on the Ray cluster at ray_address."
    )
    ray_address: str = Field(
        "http://127.0.0.1:8265", description="The Ray head's dashboard URL (its Jobs REST API), for launcher=ray."
    )
    ray_token: SecretStr | None = Field(
        None,
        description="Token of a Ray cluster with RAY_AUTH_MODE=token, sent as a bearer token. "
        "Environment only (no flag); or use ray_token_file.",
    )
    ray_token_file: Path | None = Field(
        None, description="File whose content (stripped) is the Ray token; instead of PROSPECTOR_RAY_TOKEN."
    )
    ray_entrypoint_num_cpus: float = Field(
        1.0, ge=0, description="CPUs Ray reserves for each trainer job; 0 = the job runs on the head node."
    )
    ray_head_timeout_s: float = Field(
        10.0, gt=0, description="How long an unreachable Ray head is waited for before its runs that no "
        "trainer holds are settled as interrupted.",
    )
    train_limits: Annotated[TrainLimits, NoDecode] = Field(
        default_factory=TrainLimits,
        description="Resource limits on the runs clients ask for: a JSON object of TrainLimits keys, the "
        "rest default (README: Limits); trainers get them as --limits.",
    )
    allow_wandb_online: bool = Field(
        False, description="Accept wandb_mode online in POST /runs (its trainers then reach the network)."
    )

    @field_validator("cors_origins", "allowed_hosts", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @model_validator(mode="after")
    def _tokens_from_files(self) -> Settings:
        self.api_token = _token_from_file("api_token", self.api_token, self.api_token_file)
        self.ray_token = _token_from_file("ray_token", self.ray_token, self.ray_token_file)
        return self

    @field_validator("ray_address")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("ray_address must be the Ray dashboard's http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("train_limits", mode="before")
    @classmethod
    def _parse_limits(cls, value: Any) -> Any:
        if isinstance(value, str):
            return TrainLimits.model_validate_json(value)
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
        return self.api_token.get_secret_value() if self.api_token is not None else None

    @property
    def trusted_hosts(self) -> list[str]:
        """Host header names the server answers: `allowed_hosts`, or loopback plus the bind address."""
        if self.allowed_hosts:
            return self.allowed_hosts
        hosts = ["localhost", "127.0.0.1", "[::1]"]
        bind = f"[{self.host}]" if ":" in self.host else self.host
        if bind not in hosts and not self.binds_every_address:
            hosts.append(bind)
        return hosts

    @property
    def binds_every_address(self) -> bool:
        """True for 0.0.0.0 or ::, whose clients' Host names cannot be guessed."""
        try:
            return ipaddress.ip_address(self.host).is_unspecified
        except ValueError:
            return False

    def bind_problem(self) -> str | None:
        """Why serving is refused (a blank token; a non-loopback bind without a strong one), or None."""
        token = self.token
        if token is not None and not token.strip():
            return "refusing an API token that is empty or only whitespace"
        if _is_loopback(self.host):
            return None
        if token is None:
            return (
                f"refusing to bind {self.host}: a non-loopback address needs PROSPECTOR_API_TOKEN "
                "(or --api-token-file)"
            )
        if len(token.strip()) < MIN_REMOTE_TOKEN_CHARS:
            return (
                f"refusing to bind {self.host}: the API token must have at least "
                f"{MIN_REMOTE_TOKEN_CHARS} characters on a non-loopback address"
            )
        return None


def _token_from_file(name: str, token: SecretStr | None, path: Path | None) -> SecretStr | None:
    """`token`, or the stripped content of the file at `path` (setting both is an error)."""
    if path is None:
        return token
    if token is not None:
        raise ValueError(f"set PROSPECTOR_{name.upper()} or {name}_file, not both")
    try:
        return SecretStr(path.read_text().strip())
    except OSError as exc:
        raise ValueError(f"{name}_file: cannot read {path}: {exc.strerror}") from None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
