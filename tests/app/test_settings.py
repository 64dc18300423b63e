"""Settings: environment, flags, and the bind check."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from pydantic import ValidationError

from app.__main__ import main as serve
from app.core.config import Settings
from trainer.config import TrainLimits


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


def test_every_setting_but_the_tokens_is_a_flag_that_sets_it(tmp_path: Path, monkeypatch) -> None:
    """`python -m app` with every flag (written out by hand, none at its default): the app it
    serves has those settings, on the host and port given."""
    for name in [name for name in os.environ if name.startswith("PROSPECTOR_")]:
        monkeypatch.delenv(name)
    (tmp_path / "token").write_text("a-token-of-24-characters\n")
    (tmp_path / "ray-token").write_text("a-ray-token\n")
    flags = [
        ("--runs-root", str(tmp_path / "runs"), "runs_root", tmp_path / "runs"),
        ("--host", "0.0.0.0", "host", "0.0.0.0"),
        ("--port", "9001", "port", 9001),
        ("--api-token-file", str(tmp_path / "token"), "api_token_file", tmp_path / "token"),
        ("--allowed-hosts", "a.example, b.example", "allowed_hosts", ["a.example", "b.example"]),
        ("--cors-origins", "http://ok.example", "cors_origins", ["http://ok.example"]),
        ("--max-concurrent-runs", "3", "max_concurrent_runs", 3),
        ("--trainer-threads", "2", "trainer_threads", 2),
        ("--trainer-command", "/opt/train --fast", "trainer_command", ["/opt/train", "--fast"]),
        ("--stop-grace-s", "2.5", "stop_grace_s", 2.5),
        ("--log-max-bytes", "8192", "log_max_bytes", 8192),
        ("--max-body-bytes", "2048", "max_body_bytes", 2048),
        ("--follow-watch", "false", "follow_watch", False),
        ("--follow-watch-step-s", "0.01", "follow_watch_step_s", 0.01),
        ("--follow-poll-s", "0.25", "follow_poll_s", 0.25),
        ("--supervise-poll-s", "0.2", "supervise_poll_s", 0.2),
        ("--subscriber-queue-size", "64", "subscriber_queue_size", 64),
        ("--play-max-sessions", "4", "play_max_sessions", 4),
        ("--play-idle-s", "60", "play_idle_s", 60.0),
        ("--sse-ping-s", "5", "sse_ping_s", 5.0),
        ("--sse-send-timeout-s", "3", "sse_send_timeout_s", 3.0),
        ("--sse-token-ttl-s", "120", "sse_token_ttl_s", 120.0),
        ("--launcher", "ray", "launcher", "ray"),
        ("--ray-address", "http://10.0.0.5:8265", "ray_address", "http://10.0.0.5:8265"),
        ("--ray-token-file", str(tmp_path / "ray-token"), "ray_token_file", tmp_path / "ray-token"),
        ("--ray-entrypoint-num-cpus", "0.5", "ray_entrypoint_num_cpus", 0.5),
        ("--ray-head-timeout-s", "30", "ray_head_timeout_s", 30.0),
        ("--train-limits", '{"max_num_envs": 64}', "train_limits", TrainLimits(max_num_envs=64)),
        ("--allow-wandb-online", "true", "allow_wandb_online", True),
    ]
    assert sorted(name for *_, name, _ in flags) == sorted(set(Settings.model_fields) - {"api_token", "ray_token"})
    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.update(app=app, **options))
    serve([part for flag, text, _, _ in flags for part in (flag, text)])
    settings: Settings = served["app"].state.settings
    defaults = Settings()
    for flag, _, name, value in flags:
        assert value != getattr(defaults, name), flag  # the row proves something only if it changes the setting
        assert getattr(settings, name) == value, flag
    assert (served["host"], served["port"]) == ("0.0.0.0", 9001)
    assert settings.token == "a-token-of-24-characters" and settings.ray_token.get_secret_value() == "a-ray-token"


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


def test_a_token_given_as_a_flag_is_refused_without_being_echoed(capsys) -> None:
    # The token is read from the environment or a file only; a prefix of --api-token-file must
    # not be taken for it (its error would print the token as a file name).
    with pytest.raises(SystemExit) as exit_info:
        serve(["--api-token", "a-token-of-24-characters"])
    assert exit_info.value.code == 2
    assert "a-token-of-24-characters" not in capsys.readouterr().err
