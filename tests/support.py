"""Test support: the app in-process with a fake launcher, hand-made run directories, an SSE
reader, and the trainer's CLI run in-process or as a subprocess. The real server process is
tests.serving's."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import anyio.from_thread
import httpx

from app.core.config import Settings
from app.main import create_app
from app.store import RunStore
from trainer.cli import flag
from trainer.cli import main as trainer_main
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

    def run(self, function: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Await `function(*args)` on the app's event loop (e.g. to close what a request started)."""
        return self._portal.call(function, *args)

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


class FakeTrainer:
    """A trainer that ends when the test says so, with the exit status it is given."""

    end_note = None

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.signals: list[signal.Signals] = []
        self._exit: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()

    async def send_signal(self, sig: signal.Signals) -> None:
        self.signals.append(sig)

    def end(self, exit_code: int | None) -> None:
        self._exit.set_result(exit_code)

    async def wait(self) -> int | None:
        return await self._exit


class FakeLauncher:
    """A launcher that starts no process: each launch makes a FakeTrainer, or raises `error`."""

    name = "local"

    def __init__(self, error: OSError | None = None) -> None:
        self.error = error
        self.gate: asyncio.Event | None = None  # set: launches wait for it (a slow Ray head)
        self.trainers: dict[str, FakeTrainer] = {}
        self.args: dict[str, list[str]] = {}  # each run's trainer arguments

    async def launch(self, paths: RunPaths, args: Sequence[str], *, attempt: int) -> FakeTrainer:
        self.args[paths.run_id] = list(args)
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        trainer = self.trainers[paths.run_id] = FakeTrainer(pid=4_000_000 + len(self.trainers))
        return trainer

    def adopt(self, meta: RunMetadata, paths: RunPaths) -> None:
        return None

    async def forget(self, meta: RunMetadata) -> None:
        return None

    async def aclose(self) -> None:
        return None


def in_process_client(runs_root: Path, *, token: str | None = None, launcher: FakeLauncher | None = None,
                      **settings: Any) -> InProcessClient:
    """The app built for `runs_root` and `settings`, in this process, its trainers launched by
    `launcher` (a FakeLauncher: no process is started). HTTP-layer tests over hand-made run
    directories and the requests a fake launcher answers."""
    runs_root.mkdir(parents=True, exist_ok=True)
    app = create_app(Settings(runs_root=runs_root, api_token=token, **settings), launcher=launcher or FakeLauncher())
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


def train(run_root: Path, *argv: str) -> int:
    """`python -m trainer --run-root run_root *argv`, in this process (W&B off, no log tee)."""
    return trainer_main(["--run-root", str(run_root), "--no-log-to-run-dir", "--wandb-mode", "disabled", *argv])


def config_flags(config: dict[str, Any]) -> list[str]:
    """A config (like SHORT) as trainer flags: `{"num_envs": 8}` -> `["--num-envs=8"]`."""
    return [f"{flag(key)}={value}" for key, value in config.items()]


def trainer_argv(run_root: Path, *argv: str) -> list[str]:
    """The argv of a trainer subprocess: for the tests that signal it or redirect its output."""
    return [sys.executable, "-m", "trainer", "--run-root", str(run_root), *argv]


def run_trainer_process(run_root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(trainer_argv(run_root, *argv), capture_output=True, text=True, timeout=240)


def windows_of(paths: RunPaths) -> list[dict[str, Any]]:
    """The run's window records; the file must end with a whole line."""
    data = paths.windows.read_bytes()
    assert data.endswith(b"\n"), "windows.jsonl must hold whole lines only"
    return [json.loads(line) for line in data.splitlines()]


def without_timing(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Window records without their wall-clock fields (equal across identical runs)."""
    return [{k: v for k, v in r.items() if k not in ("sps", "elapsed_s", "time")} for r in records]
