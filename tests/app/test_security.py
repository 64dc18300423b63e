"""The open doors of issue 10: CSRF, DNS rebinding, the docs and /health behind or beside the
token, the token's strength and where it may come from, signed query tokens for EventSource,
and the trainer's environment."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.api.stream_token import StreamTokenSigner
from app.core.config import Settings
from app.launcher import trainer_environment
from tests.serving import Server, wait_for
from tests.support import LONG, hand_made_run, in_process_client, sse_events
from trainer.rundir import RunPaths, RunStatus, read_metadata

TOKEN = "a-token-of-24-characters"
EVIL = "http://evil.example"


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": EVIL, "Content-Type": "text/plain"},
        {"Origin": "null"},
        {"Referer": f"{EVIL}/page.html"},
    ],
)
def test_state_changing_request_from_a_foreign_page_is_403(tmp_path: Path, headers: dict[str, str]) -> None:
    with in_process_client(tmp_path / "runs") as client:
        hand_made_run(tmp_path / "runs", "x", RunStatus.queued)
        cancel = client.post("/runs/x/cancel", headers=headers, content=b"x" if "Content-Type" in headers else None)
        delete = client.delete("/runs/x", headers=headers)
        assert client.get("/runs/x").json()["status"] == "queued"
    for response in (cancel, delete):
        assert response.status_code == 403
        assert "evil.example" in response.json()["detail"] or "null" in response.json()["detail"]


def test_same_origin_listed_origins_and_non_browser_clients_pass_the_origin_check(tmp_path: Path) -> None:
    with in_process_client(tmp_path / "runs", cors_origins="http://ok.example") as client:
        for headers in ({"Origin": "http://localhost"}, {"Origin": "http://ok.example"},
                        {"Referer": "http://localhost/docs"}, {}):
            assert client.post("/runs/nope/cancel", headers=headers).status_code == 404, headers


def test_a_body_that_is_not_json_is_415(tmp_path: Path) -> None:
    with in_process_client(tmp_path / "runs") as client:
        plain = client.post("/runs", content=b'{"run_id": "p"}', headers={"Content-Type": "text/plain"})
        form = client.post("/runs", data={"run_id": "f"})
        json_ok = client.post("/runs", json={"total_env_steps": -1})
    assert plain.status_code == 415 and "application/json" in plain.json()["detail"]
    assert form.status_code == 415
    assert json_ok.status_code == 422  # a JSON body reaches validation


def test_a_foreign_host_header_is_400_and_allowed_hosts_widen_the_list(tmp_path: Path) -> None:
    with in_process_client(tmp_path / "runs") as client:
        assert client.get("/health", headers={"Host": "evil.example"}).status_code == 400
        assert client.get("/health", headers={"Host": "attacker.example:8000"}).status_code == 400
        for host in ("localhost:8000", "127.0.0.1:8000", "[::1]:8000"):
            assert client.get("/health", headers={"Host": host}).status_code == 200, host
    with in_process_client(tmp_path / "runs", allowed_hosts="prospector.lan") as client:
        assert client.get("/health", headers={"Host": "prospector.lan"}).status_code == 200
        assert client.get("/health", headers={"Host": "localhost"}).status_code == 400


def test_default_trusted_hosts_add_the_bind_address_but_not_a_wildcard() -> None:
    assert Settings(host="192.0.2.7").trusted_hosts == ["localhost", "127.0.0.1", "[::1]", "192.0.2.7"]
    assert Settings(host="fd00::7").trusted_hosts[-1] == "[fd00::7]"
    assert Settings(host="0.0.0.0").trusted_hosts == ["localhost", "127.0.0.1", "[::1]"]


def test_with_a_token_the_docs_and_schema_need_it_too(tmp_path: Path) -> None:
    with in_process_client(tmp_path / "runs", token=TOKEN) as client:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert client.get(path, headers={"Authorization": ""}).status_code == 401, path
            assert client.get(path).status_code == 200, path


def test_health_does_not_reveal_the_runs_root(tmp_path: Path) -> None:
    with in_process_client(tmp_path / "runs") as client:
        body = client.get("/health").text
    assert str(tmp_path) not in body and "runs_root" not in body


@pytest.mark.parametrize(
    ("host", "token", "refused"),
    [
        ("0.0.0.0", "short-token", True),
        ("0.0.0.0", " " * 20, True),
        ("0.0.0.0", "x" * 15 + "   ", True),
        ("127.0.0.1", "   ", True),
        ("127.0.0.1", "", True),
        ("127.0.0.1", "short", False),
        ("0.0.0.0", TOKEN, False),
    ],
)
def test_weak_tokens_are_refused_for_non_loopback_binds(host: str, token: str, refused: bool) -> None:
    assert (Settings(host=host, api_token=token).bind_problem() is not None) == refused


def test_the_token_comes_from_a_file_or_the_environment_never_a_flag(tmp_path: Path, monkeypatch) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    assert Settings(api_token_file=token_file).token == TOKEN
    monkeypatch.setenv("PROSPECTOR_API_TOKEN_FILE", str(token_file))
    assert Settings().token == TOKEN
    with pytest.raises(ValueError, match="api_token_file"):
        Settings(api_token_file=tmp_path / "missing")
    result = subprocess.run(
        [sys.executable, "-m", "app", "--runs-root", str(tmp_path), "--api-token", TOKEN],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2 and "--api-token" in result.stderr


def test_a_short_token_on_a_public_bind_stops_the_server_at_start(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "PROSPECTOR_API_TOKEN": "short"}
    result = subprocess.run(
        [sys.executable, "-m", "app", "--runs-root", str(tmp_path), "--host", "0.0.0.0"],
        capture_output=True, text=True, timeout=60, env=env,
    )
    assert result.returncode == 2 and "16 characters" in result.stderr


def test_a_browser_follows_a_run_with_a_signed_query_token(tmp_path: Path) -> None:
    hand_made_run(tmp_path / "runs", "done", RunStatus.completed, windows=2)
    with in_process_client(tmp_path / "runs", token=TOKEN) as client:
        issued = client.post("/auth/sse-token")
        assert issued.status_code == 200
        token = issued.json()["token"]
        assert 0 < issued.json()["expires_in_s"] <= 300
        # What an EventSource sends: no Authorization, the token in the URL.
        response = client.get("/runs/done/events", params={"token": token},
                              headers={"Authorization": "", "Accept": "text/event-stream"})
        assert response.status_code == 200
        assert [event.event for event in sse_events(response)] == ["snapshot", "window", "window", "end"]
        log = client.get("/runs/done/logs", params={"token": token}, headers={"Authorization": ""})
        assert log.status_code == 200
        docs = client.get("/docs", params={"token": token}, headers={"Authorization": ""})
        assert docs.status_code == 200 and f"/openapi.json?token={token}" in docs.text
        # Read-only GETs a browser opens by URL only: not the rest of the API.
        for method, path in (("GET", "/runs"), ("GET", "/runs/done"), ("DELETE", "/runs/done"),
                             ("POST", "/auth/sse-token")):
            refused = client.request(method, path, params={"token": token}, headers={"Authorization": ""})
            assert refused.status_code == 401, (method, path)


def test_expired_and_forged_query_tokens_are_401(tmp_path: Path) -> None:
    signer = StreamTokenSigner.for_api_token(TOKEN, ttl_s=300)
    expired, _ = signer.issue(now=1_000_000)
    expires, _, signature = signer.issue()[0].partition(".")
    forged = [
        f"{int(expires) + 3600}.{signature}",  # a later expiry with the old signature
        StreamTokenSigner.for_api_token("another-token-of-24-chars", 300).issue()[0],
        "9999999999.", "nonsense", "１２３.abc",
    ]
    hand_made_run(tmp_path / "runs", "done", RunStatus.completed, windows=1)
    with in_process_client(tmp_path / "runs", token=TOKEN) as client:
        for token in [expired, *forged]:
            response = client.get("/runs/done/events", params={"token": token}, headers={"Authorization": ""})
            assert response.status_code == 401, token
            assert "token" in response.json()["detail"]


def test_cors_clients_can_read_the_location_header(tmp_path: Path) -> None:
    with in_process_client(tmp_path / "runs", cors_origins="http://ok.example") as client:
        response = client.post("/runs", json={"total_env_steps": -1}, headers={"Origin": "http://ok.example"})
    assert "location" in response.headers["access-control-expose-headers"].lower()


def test_the_trainer_environment_is_an_allow_list() -> None:
    server_env = {
        "PATH": "/bin", "HOME": "/home/p", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONPATH": "/src",
        "WANDB_API_KEY": "w", "PROSPECTOR_API_TOKEN": TOKEN, "PROSPECTOR_API_TOKEN_FILE": "/etc/t",
        "AWS_SECRET_ACCESS_KEY": "s", "OMP_NUM_THREADS": "64",
    }
    env = trainer_environment(2, server_env)
    assert not any(name.startswith("PROSPECTOR_") for name in env)
    assert "AWS_SECRET_ACCESS_KEY" not in env
    assert {"PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH", "WANDB_API_KEY"} <= set(env)
    assert env["OMP_NUM_THREADS"] == "2" and env["PYTHONUNBUFFERED"] == "1"


def test_a_launched_trainer_never_sees_the_api_token(make_server, tmp_path: Path) -> None:
    # The environment is the launcher's to give: a trainer command that only waits shows it.
    command = tmp_path / "waiting-trainer"
    command.write_text("#!/bin/sh\nexec sleep 600\n")
    command.chmod(0o755)
    server: Server = make_server(token=TOKEN, trainer_command=command)
    with server.client() as client:
        assert client.post("/runs", json={**LONG, "run_id": "env"}).status_code == 201
        paths = RunPaths(server.runs_root / "env")
        pid = wait_for(lambda: read_metadata(paths).pid, 60, "the trainer's pid")
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert client.post("/runs/env/cancel").status_code == 202
    names = {entry.partition(b"=")[0].decode() for entry in environ if entry}
    assert "PATH" in names and "PYTHONUNBUFFERED" in names
    assert not any(name.startswith("PROSPECTOR_") for name in names), names
    assert not any(TOKEN.encode() in entry for entry in environ)
    server_environ = Path(f"/proc/{server.proc.pid}/environ").read_bytes()
    assert b"PROSPECTOR_API_TOKEN=" + TOKEN.encode() in server_environ  # it was there to leak


def test_the_docs_pages_load_their_scripts_from_this_server(tmp_path: Path) -> None:
    with in_process_client(tmp_path / "runs") as client:
        for page in ("/docs", "/redoc"):
            html = client.get(page).text
            urls = re.findall(r'(?:src|href)="([^"]+)"', html)
            assert urls, page
            for url in urls:
                assert url.startswith("/"), (page, url)  # nothing from a CDN
                asset = client.get(url)
                assert asset.status_code == 200 and len(asset.content) > 1000, url
            assert "https://" not in re.sub(r"<script>.*?</script>", "", html, flags=re.S)
