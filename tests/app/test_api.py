"""The HTTP surface without long runs, on the app in-process with a fake launcher: validation
(422 naming the field), 404, 401, CORS, 413, OpenAPI; and the start-up checks."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from app.__main__ import main as serve
from tests.support import SHORT, FakeLauncher, InProcessClient, in_process_client


def _field_named(response: httpx.Response, field: str) -> bool:
    return any(field in map(str, error["loc"]) for error in response.json()["detail"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"total_env_steps": -5}, "total_env_steps"),
        ({"total_env_steps": 1000, "window_env_steps": 2000}, "window_env_steps"),
        ({"trainer_backend": "magic"}, "trainer_backend"),
        ({"run_id": "../x"}, "run_id"),
        ({"run_id": "a..b"}, "run_id"),
        ({"num_envs": 0}, "num_envs"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_bad_body_is_422_naming_the_field(tmp_path: Path, body: dict, field: str) -> None:
    with in_process_client(tmp_path / "runs") as client:
        response = client.post("/runs", json=body)
    assert response.status_code == 422
    assert _field_named(response, field), response.json()


def test_bad_query_and_path_are_422(tmp_path: Path) -> None:
    with in_process_client(tmp_path / "runs") as client:
        assert client.get("/runs", params={"status": "sleeping"}).status_code == 422
        assert client.get("/runs", params={"limit": 0}).status_code == 422
        cursor = client.get("/runs", params={"cursor": "not-a-cursor"})
        assert cursor.status_code == 422 and "cursor" in cursor.json()["detail"]
        assert client.get("/runs/a..b").status_code == 422


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/runs/nope"),
        ("POST", "/runs/nope/cancel"),
        ("POST", "/runs/nope/resume"),
        ("DELETE", "/runs/nope"),
        ("GET", "/runs/nope/events"),
        ("GET", "/runs/nope/metrics"),
        ("GET", "/runs/nope/checkpoints"),
        ("GET", "/runs/nope/checkpoints/0"),
        ("GET", "/runs/nope/logs"),
    ],
)
def test_unknown_run_is_404(tmp_path: Path, method: str, path: str) -> None:
    with in_process_client(tmp_path / "runs") as client:
        response = client.request(method, path)
    assert response.status_code == 404
    assert "nope" in response.json()["detail"]


def test_token_guards_every_route_but_health(tmp_path: Path) -> None:
    with in_process_client(tmp_path / "runs", token="s3cret") as authorised, \
            InProcessClient(authorised.app, headers={}) as anonymous:
        assert anonymous.get("/health").status_code == 200
        for method, path in [("GET", "/runs"), ("POST", "/runs"), ("GET", "/runs/x"), ("GET", "/runs/x/events"),
                             ("GET", "/runs/x/metrics"), ("GET", "/runs/x/logs"), ("POST", "/runs/x/cancel")]:
            response = anonymous.request(method, path)
            assert response.status_code == 401, (method, path)
            assert response.headers["www-authenticate"] == "Bearer"
        wrong = anonymous.get("/runs", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert authorised.get("/runs").status_code == 200


def test_cors_allows_only_listed_origins(tmp_path: Path) -> None:
    with in_process_client(tmp_path / "runs", cors_origins="http://ok.example") as client:
        allowed = client.get("/health", headers={"Origin": "http://ok.example"})
        assert allowed.headers["access-control-allow-origin"] == "http://ok.example"
        other = client.get("/health", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_oversized_body_is_413(tmp_path: Path) -> None:
    with in_process_client(tmp_path / "runs") as client:
        response = client.post("/runs", content=b"{" + b" " * 70_000 + b"}", headers={"content-type": "application/json"})
        assert response.status_code == 413

        async def chunks() -> AsyncIterator[bytes]:  # sent without a Content-Length
            yield b'{"seed": 1, "x": "'
            for _ in range(80):
                yield b"y" * 1000
            yield b'"}'

        streamed = client.post("/runs", content=chunks(), headers={"content-type": "application/json"})
        assert streamed.status_code == 413


def test_openapi_describes_every_endpoint_with_models(tmp_path: Path) -> None:
    with in_process_client(tmp_path / "runs") as client:
        schema = client.get("/openapi.json").json()
        assert client.get("/docs").status_code == 200
    paths = schema["paths"]
    for path in ["/runs", "/runs/{run_id}", "/runs/{run_id}/cancel", "/runs/{run_id}/resume",
                 "/runs/{run_id}/events", "/runs/{run_id}/metrics", "/runs/{run_id}/checkpoints",
                 "/runs/{run_id}/checkpoints/{window_id}", "/runs/{run_id}/logs", "/health"]:
        assert path in paths
    assert {"RunCreate", "RunResource", "RunPage", "MetricsPage", "CheckpointList", "Health", "ErrorBody"} <= set(
        schema["components"]["schemas"]
    )
    assert "text/event-stream" in paths["/runs/{run_id}/events"]["get"]["responses"]["200"]["content"]


def test_health_counts_runs_by_status(tmp_path: Path) -> None:
    launcher = FakeLauncher()
    with in_process_client(tmp_path / "runs", launcher=launcher) as client:
        assert client.post("/runs", json={**SHORT, "run_id": "h1"}).status_code == 201
        body = client.get("/health").json()
    assert list(launcher.trainers) == ["h1"]
    assert body["status"] == "ok"
    assert body["runs_by_status"]["starting"] == sum(body["runs_by_status"].values()) == 1
    assert body["disk_free_bytes"] > 0


def test_non_loopback_bind_without_token_is_refused(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.delenv("PROSPECTOR_API_TOKEN", raising=False)
    monkeypatch.delenv("PROSPECTOR_API_TOKEN_FILE", raising=False)
    with pytest.raises(SystemExit) as exit_:
        serve(["--runs-root", str(tmp_path), "--host", "0.0.0.0"])
    assert exit_.value.code == 2
    assert "PROSPECTOR_API_TOKEN" in capsys.readouterr().err


def test_server_never_imports_the_heavy_trainer_modules() -> None:
    code = (
        "import sys, app.__main__, app.main\n"
        "from app.core.config import Settings\n"
        "app.main.create_app(Settings(runs_root='unused'))\n"
        "print(sorted(m for m in ('torch', 'numba', 'pufferlib') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"
