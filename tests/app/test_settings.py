"""Settings: environment, flags, and the bind check."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.__main__ import build_parser
from app.core.config import Settings


def test_environment_variables_are_read(monkeypatch) -> None:
    monkeypatch.setenv("PROSPECTOR_MAX_CONCURRENT_RUNS", "3")
    monkeypatch.setenv("PROSPECTOR_CORS_ORIGINS", "http://a.example, http://b.example")
    settings = Settings()
    assert settings.max_concurrent_runs == 3
    assert settings.cors_origins == ["http://a.example", "http://b.example"]


def test_train_limits_come_as_json_from_the_environment_or_a_flag(monkeypatch) -> None:
    monkeypatch.setenv("PROSPECTOR_TRAIN_LIMITS", '{"max_num_envs": 64}')
    assert Settings().train_limits.max_num_envs == 64
    assert Settings(train_limits='{"max_hidden_size": 32}').train_limits.max_num_envs == 4096
    with pytest.raises(ValidationError, match="train_limits"):
        Settings(train_limits='{"max_num_envs": true}')
    assert Settings().allow_wandb_online is False


def test_every_setting_but_the_tokens_is_a_flag() -> None:
    flags = {action.dest for action in build_parser()._actions}
    assert set(Settings.model_fields) - {"api_token", "ray_token"} <= flags
    assert "api_token" not in flags and "ray_token" not in flags


def test_the_ray_token_comes_from_the_environment_or_a_file(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PROSPECTOR_RAY_TOKEN", "from-env")
    assert Settings().ray_token.get_secret_value() == "from-env"
    (tmp_path / "ray_token").write_text("from-file\n")
    with pytest.raises(ValueError, match="not both"):
        Settings(ray_token_file=tmp_path / "ray_token")
    monkeypatch.delenv("PROSPECTOR_RAY_TOKEN")
    assert Settings(ray_token_file=tmp_path / "ray_token").ray_token.get_secret_value() == "from-file"
    with pytest.raises(ValueError, match="ray_token_file: cannot read"):
        Settings(ray_token_file=tmp_path / "missing")


@pytest.mark.parametrize(("name", "value"), [("launcher", "slurm"), ("ray_address", "ray-head:8265"),
                                             ("ray_entrypoint_num_cpus", "-1")])
def test_bad_launcher_settings_are_refused_by_name(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        Settings(**{name: value})


@pytest.mark.parametrize(
    ("host", "token", "refused"),
    [("127.0.0.1", None, False), ("localhost", None, False), ("::1", None, False),
     ("0.0.0.0", None, True), ("192.0.2.1", None, True), ("0.0.0.0", "t" * 16, False)],
)
def test_non_loopback_bind_needs_a_token(host: str, token: str | None, refused: bool) -> None:
    assert (Settings(host=host, api_token=token).bind_problem() is not None) == refused
