"""The service with `launcher=ray` against a real Ray head on loopback (the `ray` extra, which
`make test` installs). One head for the whole module: it takes ~20 s and ~0.7 GiB to start."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.app.conftest import kill_live_trainers
from tests.serving import Server, free_port, wait_for
from tests.support import LONG, SHORT, assert_stopped_inside_its_window, file_windows, follow, run_status

RAY = Path(sys.executable).parent / "ray"


@pytest.fixture(scope="module")
def ray_dashboard() -> Iterator[str]:
    """A Ray head bound to 127.0.0.1 with its Jobs API on a free port; stopped by SIGTERM to the
    process we started (never `ray stop`, which would stop every head on the machine)."""
    assert RAY.is_file(), f"{RAY} is missing: install the ray extra (`pip install -e '.[ray]'`; make test does)"
    temp_dir = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # Ray's socket paths must stay short
    dashboard_port = free_port()
    argv = [
        str(RAY), "start", "--head", "--block", "--num-cpus", "2", "--disable-usage-stats",
        "--include-dashboard=true", "--dashboard-host", "127.0.0.1", "--dashboard-port", str(dashboard_port),
        "--port", str(free_port()), "--node-ip-address", "127.0.0.1", "--temp-dir", temp_dir,
        "--include-log-monitor=false", "--object-store-memory", "100000000",
        "--ray-client-server-port", str(free_port()),
    ]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
           "RAY_AUTH_MODE": "disabled"}
    log_path = Path(temp_dir) / "head.log"
    with open(log_path, "ab") as log:
        head = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    address = f"http://127.0.0.1:{dashboard_port}"
    try:
        with httpx.Client(timeout=2) as probe:
            wait_for(lambda: _answers(head, probe, address, log_path), 180, "the Ray head's Jobs API")
        yield address
    finally:
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)  # the group we started, and only it
            head.wait()
        shutil.rmtree(temp_dir, ignore_errors=True)


def _answers(head: subprocess.Popen[bytes], probe: httpx.Client, address: str, log_path: Path) -> bool:
    if head.poll() is not None:
        raise AssertionError(f"ray start exited with {head.returncode}: {log_path.read_text()[-3000:]}")
    try:
        return probe.get(address + "/api/version").status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture(scope="module")
def ray_server(ray_dashboard: str, tmp_path_factory: pytest.TempPathFactory, warm_numba: None) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("ray-service")
    server = Server(
        root / "runs", root / "server.log", launcher="ray", ray_address=ray_dashboard,
        max_concurrent_runs=2, stop_grace_s=20, supervise_poll_s=0.2,
    ).start()
    yield server
    server.stop()
    kill_live_trainers(root / "runs")


def test_a_run_on_ray_streams_to_its_end(ray_server: Server) -> None:
    with ray_server.client() as client:
        created = client.post("/runs", json={**SHORT, "run_id": "on-ray"})
        assert created.status_code == 201, created.text
        events = follow(client, "on-ray")
        run = client.get("/runs/on-ray").json()
    assert [e.event for e in events][0] == "snapshot" and events[-1].event == "end"
    assert [e.json()["window_id"] for e in events if e.event == "window"] == [0, 1, 2]
    assert run["status"] == "completed"
    assert run["launcher"] == "ray"
    assert run["ray_job"]["submission_id"] == "on-ray.1"
    assert run["ray_job"]["node_address"] == "127.0.0.1"
    assert len(file_windows(ray_server.runs_root, "on-ray")) == 3


def test_a_cancelled_run_on_ray_saves_its_partial_window(ray_server: Server) -> None:
    with ray_server.client() as client:
        assert client.post("/runs", json={**LONG, "run_id": "ray-cancel"}).status_code == 201
        follow(client, "ray-cancel", stop_after_windows=1)
        assert client.post("/runs/ray-cancel/cancel").status_code == 202
        wait_for(lambda: run_status(client, "ray-cancel") == "cancelled", 60, "the run to be cancelled")
        run = client.get("/runs/ray-cancel").json()
    assert_stopped_inside_its_window(run, file_windows(ray_server.runs_root, "ray-cancel"))
    assert run["ray_job"]["submission_id"] == "ray-cancel.1"
