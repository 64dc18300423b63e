"""Test support: a real uvicorn server in a subprocess, the app in-process, hand-made run
directories, an SSE reader, and small waits."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import anyio.from_thread
import httpx

from app.core.config import Settings
from app.main import create_app
from app.store import RunStore
from trainer.config import TrainConfig
from trainer.rundir import (
    RunMetadata,
    RunPaths,
    RunStatus,
    update_status,
    utc_now,
    write_json_atomic,
    write_metadata,
)
from trainer.windows import EPISODE_FIELDS

T = TypeVar("T")

# Tiny random-backend runs. SHORT finishes in a few windows; LONG runs until cancelled or killed.
SHORT = {"trainer_backend": "random", "total_env_steps": 6000, "window_env_steps": 2000, "num_envs": 8}
LONG = {"trainer_backend": "random", "total_env_steps": 10**12, "window_env_steps": 2000, "num_envs": 8}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.05) -> T:
    """Poll `check` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class Server:
    """`python -m app` on 127.0.0.1 and a free port, with its output in a log file."""

    def __init__(self, runs_root: Path, log_path: Path, *, token: str | None = None, **settings: Any) -> None:
        self.runs_root = runs_root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = token
        self._log_path = log_path
        self._settings = settings
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PROSPECTOR_")}
        if self.token:
            env["PROSPECTOR_API_TOKEN"] = self.token  # the environment: argv is visible in `ps`
        args = [sys.executable, "-m", "app", "--runs-root", str(self.runs_root), "--port", str(self.port)]
        for name, value in self._settings.items():
            args += ["--" + name.replace("_", "-"), str(value)]
        with open(self._log_path, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        wait_for(self._healthy, 30, "the server to answer /health")
        return self

    def _healthy(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"server exited with {self.proc.returncode}: {self._log_path.read_text()[-3000:]}")
        try:
            return httpx.get(self.url + "/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def client(self, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()


@dataclass
class Event:
    event: str
    data: str
    id: str | None

    def json(self) -> Any:
        return json.loads(self.data)


def sse_events(response: httpx.Response) -> Iterator[Event]:
    """Parse a text/event-stream response into events (comments skipped)."""
    fields: dict[str, str] = {}
    data: list[str] = []
    for line in response.iter_lines():
        if line == "":
            if data or fields:
                yield Event(fields.get("event", "message"), "\n".join(data), fields.get("id"))
            fields, data = {}, []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                data.append(value)
            else:
                fields[name] = value


def follow(client: httpx.Client, run_id: str, headers: dict[str, str] | None = None,
           stop_after_windows: int | None = None) -> list[Event]:
    """Read a run's event stream until `end` (or after `stop_after_windows` windows)."""
    events: list[Event] = []
    with client.stream("GET", f"/runs/{run_id}/events", headers=headers or {}) as response:
        assert response.status_code == 200, response.read()
        for event in sse_events(response):
            events.append(event)
            if event.event == "end":
                break
            windows = sum(e.event == "window" for e in events)
            if stop_after_windows is not None and windows >= stop_after_windows:
                break
    return events


def window_ids(events: list[Event]) -> list[int]:
    """The window ids of the window events (an event id is `<window>` or `<window>.<milestones>`)."""
    return [int(e.id.split(".")[0]) for e in events if e.event == "window" and e.id is not None]


def file_windows(runs_root: Path, run_id: str) -> list[dict[str, Any]]:
    path = runs_root / run_id / "metrics" / "windows.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def run_status(client: httpx.Client, run_id: str) -> str:
    return client.get(f"/runs/{run_id}").json()["status"]


class InProcessClient:
    """A blocking client of an app in this process, through httpx's ASGI transport, on
    http://localhost. The app's lifespan is not run: no supervisor loop, no trainer."""

    def __init__(self, app: Any, headers: dict[str, str]) -> None:
        self.app = app
        self._portal_cm = anyio.from_thread.start_blocking_portal()
        self._portal = self._portal_cm.__enter__()
        transport = httpx.ASGITransport(app=app)
        self._client = httpx.AsyncClient(transport=transport, base_url="http://localhost", headers=headers)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self._portal.call(partial(self._client.request, method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("HEAD", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    def __enter__(self) -> InProcessClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._portal.call(self._client.aclose)
        self._portal_cm.__exit__(None, None, None)


def in_process_client(runs_root: Path, *, token: str | None = None, **settings: Any) -> InProcessClient:
    """The app built for `runs_root` and `settings`, in this process (HTTP-layer tests over
    hand-made run directories)."""
    runs_root.mkdir(parents=True, exist_ok=True)
    app = create_app(Settings(runs_root=runs_root, api_token=token, **settings))
    return InProcessClient(app, {"Authorization": f"Bearer {token}"} if token else {})


def window_record(window_id: int, window_env_steps: int, sps: float | None = 1000.0) -> dict[str, Any]:
    """A complete window record as the trainer writes it (no episode ended in it)."""
    start = window_id * window_env_steps
    end = start + window_env_steps
    return {
        "window_id": window_id, "window_complete": True, "env_steps_start": start, "env_steps_end": end,
        "env_steps_in_window": window_env_steps, "env_steps_total": end, "ticks_in_window": window_env_steps,
        "ticks_total": end, "episodes": 0, **dict.fromkeys(EPISODE_FIELDS), "reward_per_step_mean": 0.0,
        "invalid_action_rate": 0.0, "sps": sps, "elapsed_s": 1.0, "time": utc_now(),
    }


def hand_made_run(runs_root: Path, run_id: str, status: RunStatus, *, windows: int = 0,
                  config: dict[str, Any] | None = None, **changes: Any) -> RunPaths:
    """A run directory written by hand: config.json, `windows` window lines, and metadata in `status`."""
    paths = RunPaths(runs_root / run_id)
    paths.make_dirs()
    train_config = TrainConfig.model_validate(config or SHORT)
    write_json_atomic(paths.config, train_config.model_dump(mode="json"))
    records = [window_record(i, train_config.window_env_steps) for i in range(windows)]
    with open(paths.windows, "w") as f:
        f.writelines(json.dumps(record) + "\n" for record in records)
    now = utc_now()
    fields: dict[str, Any] = {
        "run_id": run_id, "status": status, "trainer_backend": train_config.trainer_backend,
        "seed": train_config.seed, "target_env_steps": train_config.total_env_steps,
        "window_env_steps": train_config.window_env_steps, "created_at": now, "updated_at": now,
        "windows_emitted": len(records), "env_steps_total": records[-1]["env_steps_end"] if records else 0,
        "latest_window": records[-1] if records else None,
    }
    write_metadata(paths, RunMetadata(**{**fields, **changes}))
    return paths


def assert_stopped_inside_its_window(run: dict[str, Any], windows: list[dict[str, Any]]) -> None:
    """A run cancelled by SIGTERM: the trainer wrote `cancelled` itself, appended no partial window,
    and shows the window it stopped in (unless it stopped on a boundary) as `latest_window`."""
    assert (run["status"], run["exit_code"], run["error"]) == ("cancelled", 128 + signal.SIGTERM, None)
    assert all(w["window_complete"] for w in windows)
    if run["env_steps_total"] > windows[-1]["env_steps_end"]:
        partial = run["latest_window"]
        assert (partial["window_complete"], partial["window_id"]) == (False, len(windows))
        assert partial["env_steps_end"] == run["env_steps_total"]
    else:
        assert run["latest_window"]["window_id"] == windows[-1]["window_id"]


def running_run(root: Path, run_id: str = "r") -> RunPaths:
    """A run created by the store and moved to `running`, with no trainer (for followers)."""
    RunStore(root).create(run_id, TrainConfig())
    paths = RunPaths(root / run_id)
    update_status(paths, RunStatus.starting)
    update_status(paths, RunStatus.running)
    return paths


def drain(queue: Any) -> list:
    """Everything waiting in an asyncio queue, without blocking."""
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items
