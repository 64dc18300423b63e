"""Settings: environment, flags, and the bind check."""

from __future__ import annotations

import pytest

from app.__main__ import build_parser
from app.core.config import Settings


def test_environment_variables_are_read(monkeypatch) -> None:
    monkeypatch.setenv("PROSPECTOR_MAX_CONCURRENT_RUNS", "3")
    monkeypatch.setenv("PROSPECTOR_CORS_ORIGINS", "http://a.example, http://b.example")
    settings = Settings()
    assert settings.max_concurrent_runs == 3
    assert settings.cors_origins == ["http://a.example", "http://b.example"]


def test_every_setting_but_the_token_is_a_flag() -> None:
    flags = {action.dest for action in build_parser()._actions}
    assert set(Settings.model_fields) - {"api_token"} <= flags
    assert "api_token" not in flags


@pytest.mark.parametrize(
    ("host", "token", "refused"),
    [("127.0.0.1", None, False), ("localhost", None, False), ("::1", None, False),
     ("0.0.0.0", None, True), ("192.0.2.1", None, True), ("0.0.0.0", "t" * 16, False)],
)
def test_non_loopback_bind_needs_a_token(host: str, token: str | None, refused: bool) -> None:
    assert (Settings(host=host, api_token=token).bind_problem() is not None) == refused
