"""Service benchmarks (loopback only, bounded): SSE fan-out latency, GET latencies, and the
cost of serving on training throughput.

- SSE fan-out: 500 clients on one run whose "trainer" (this process's child, holding the run
  lock) appends a window every 100 ms; latency = receipt time - the time written in the line.
- GET /runs/{id} at a fixed 200 req/s: p99 latency.
- GET /runs over 10,000 run directories: p50 latency.
- A random-backend training run followed by the server and 100 SSE clients, as a ratio of its
  env steps/s to the same run without a server.
- Following files: the server's CPU with 10 followed live runs writing nothing, then the SSE
  latency of windows written to them, before (stat-poll every 5 ms, the old default) and after
  (watchfiles) in the same bench run.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import psutil

from tests.serving import Server
from trainer.config import TrainConfig
from trainer.rundir import (
    JsonlAppender,
    RunLock,
    RunMetadata,
    RunPaths,
    RunStatus,
    read_metadata,
    update_status,
    utc_now,
)
from trainer.windows import EPISODE_FIELDS

FANOUT_CLIENTS = 500
FANOUT_WINDOWS = 100
FANOUT_INTERVAL_S = 0.1
GET_RATE = 200
GET_SECONDS = 5
LIST_RUNS = 10_000
LIST_REQUESTS = 200
THROUGHPUT_CLIENTS = 100
THROUGHPUT_CONFIG = {"trainer_backend": "random", "total_env_steps": 2_000_000, "window_env_steps": 100_000}
FOLLOW_RUNS = 10
FOLLOW_IDLE_S = 10.0
FOLLOW_WINDOWS = 300  # written round-robin over the runs, one every FOLLOW_INTERVAL_S
FOLLOW_INTERVAL_S = 0.02
FOLLOW_MODES: dict[str, dict[str, Any]] = {
    "before_stat_poll_5ms": {"follow_watch": "false", "follow_poll_s": 0.005},
    "after_watchfiles": {},
}


def serving(runs_root: Path, log: Path, **settings: Any) -> Server:
    """`python -m app` on a free loopback port, logging warnings only (use it as a context)."""
    return Server(runs_root, log, log_level="warning", **settings)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def make_run(runs_root: Path, run_id: str, status: RunStatus, created_at: str | None = None) -> RunPaths:
    """A run directory as a trainer leaves it (written without fsync: bench data)."""
    paths = RunPaths(runs_root / run_id)
    paths.make_dirs()
    config = TrainConfig(window_env_steps=1000, total_env_steps=10**9)
    paths.config.write_text(config.model_dump_json())
    now = created_at or utc_now()
    meta = RunMetadata(
        run_id=run_id, status=status, trainer_backend="random", seed=0, target_env_steps=config.total_env_steps,
        window_env_steps=config.window_env_steps, created_at=now, updated_at=now,
    )
    paths.metadata.write_text(meta.model_dump_json())
    return paths


def window_record(window_id: int, steps: int = 1000) -> dict[str, Any]:
    """A record shaped like the trainer's (all of its fields, about its size), plus `written_at`."""
    start, end = window_id * steps, (window_id + 1) * steps
    return {
        "window_id": window_id, "window_complete": True, "env_steps_start": start, "env_steps_end": end,
        "env_steps_in_window": steps, "env_steps_total": end, "ticks_in_window": steps, "ticks_total": end,
        "episodes": 1, **dict.fromkeys(EPISODE_FIELDS, 0.5), "reward_per_step_mean": 0.01,
        "invalid_action_rate": 0.0, "sps": 10_000.0, "elapsed_s": 0.1 * (window_id + 1), "time": utc_now(),
        "written_at": time.time(),
    }


def _fake_trainer(paths: RunPaths, started: Any, go: Any) -> None:
    """Hold the run lock, then append FANOUT_WINDOWS windows at the interval, like a trainer."""
    lock = RunLock(paths)
    lock.acquire()
    started.set()
    go.wait()
    windows = JsonlAppender(paths.windows)
    next_at = time.monotonic()
    for window_id in range(FANOUT_WINDOWS):
        next_at += FANOUT_INTERVAL_S
        time.sleep(max(0.0, next_at - time.monotonic()))
        record = window_record(window_id)
        windows.append(record)
        update_status(paths, RunStatus.running, latest_window=record, windows_emitted=window_id + 1)
    windows.close()
    update_status(paths, RunStatus.completed, exit_code=0)
    lock.release()


async def _sse_client(port: int, path: str, latencies: list[float], ids: list[int], ready: asyncio.Event) -> None:
    """A minimal HTTP/1.1 SSE reader (chunked transfer), light enough to run 500 in one loop."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode())
    await reader.readuntil(b"\r\n\r\n")
    ready.set()
    buffer = b""
    try:
        while True:
            size = int((await reader.readline()).strip(), 16)
            if size == 0:
                return
            buffer += await reader.readexactly(size + 2)
            buffer = buffer[:-2] if buffer.endswith(b"\r\n") else buffer
            *events, buffer = buffer.split(b"\r\n\r\n")
            now = time.time()
            for event in events:
                fields = dict(line.split(b": ", 1) for line in event.split(b"\r\n") if b": " in line)
                if fields.get(b"event") == b"window":
                    ids.append(int(fields[b"id"]))
                    written_at = json.loads(fields[b"data"]).get("written_at")
                    if written_at is not None:
                        latencies.append(now - written_at)
                elif fields.get(b"event") == b"end":
                    return
    finally:
        writer.close()


async def _fanout_clients(port: int, run_id: str, go: Any) -> tuple[list[float], list[list[int]]]:
    latencies: list[float] = []
    ids: list[list[int]] = [[] for _ in range(FANOUT_CLIENTS)]
    ready = [asyncio.Event() for _ in range(FANOUT_CLIENTS)]
    tasks = [
        asyncio.create_task(_sse_client(port, f"/runs/{run_id}/events", latencies, ids[i], ready[i]))
        for i in range(FANOUT_CLIENTS)
    ]
    await asyncio.gather(*(event.wait() for event in ready))
    go.set()
    await asyncio.wait_for(asyncio.gather(*tasks), FANOUT_WINDOWS * FANOUT_INTERVAL_S + 60)
    return latencies, ids


def bench_sse_fanout(work: Path) -> dict[str, Any]:
    runs_root = work / "fanout"
    paths = make_run(runs_root, "fanout", RunStatus.running)
    ctx = multiprocessing.get_context("fork")
    started, go = ctx.Event(), ctx.Event()
    writer = ctx.Process(target=_fake_trainer, args=(paths, started, go))
    writer.start()
    started.wait(30)
    try:
        with serving(runs_root, work / "server-fanout.log") as server:
            latencies, ids = asyncio.run(_fanout_clients(server.port, "fanout", go))
    finally:
        writer.join(60)
    expected = list(range(FANOUT_WINDOWS))
    missed = sum(client_ids != expected for client_ids in ids)
    return {
        "clients": FANOUT_CLIENTS,
        "windows": FANOUT_WINDOWS,
        "p50_ms": round(1000 * statistics.median(latencies), 1),
        "p99_ms": round(1000 * _percentile(latencies, 0.99), 1),
        "clients_with_missing_or_extra_windows": missed,
    }


async def _paced_gets(url: str, path: str, rate: int, seconds: int) -> list[float]:
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=50, max_keepalive_connections=50)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=10) as client:

        async def one() -> None:
            start = time.perf_counter()
            response = await client.get(path)
            response.raise_for_status()
            latencies.append(time.perf_counter() - start)

        tasks = []
        begin = time.perf_counter()
        for index in range(rate * seconds):
            await asyncio.sleep(max(0.0, begin + index / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    return latencies


def bench_get_run(work: Path) -> dict[str, Any]:
    runs_root = work / "get"
    make_run(runs_root, "one", RunStatus.completed)
    with serving(runs_root, work / "server-get.log") as server:
        latencies = asyncio.run(_paced_gets(server.url, "/runs/one", GET_RATE, GET_SECONDS))
    return {"rate_per_s": GET_RATE, "requests": len(latencies), "p50_ms": round(1000 * statistics.median(latencies), 2),
            "p99_ms": round(1000 * _percentile(latencies, 0.99), 2)}


def bench_list_runs(work: Path) -> dict[str, Any]:
    runs_root = work / "list"
    statuses = [RunStatus.completed, RunStatus.failed, RunStatus.cancelled, RunStatus.interrupted]
    start = datetime(2030, 1, 1, tzinfo=timezone.utc)
    for index in range(LIST_RUNS):
        created_at = (start + timedelta(seconds=index)).isoformat().replace("+00:00", "Z")
        make_run(runs_root, f"run-{index:05d}", statuses[index % len(statuses)], created_at)
    with serving(runs_root, work / "server-list.log") as server, server.client() as client:
        client.get("/runs").raise_for_status()  # the first request parses every run once
        latencies = []
        for index in range(LIST_REQUESTS):
            params = {"status": "failed"} if index % 4 == 3 else {}
            start = time.perf_counter()
            client.get("/runs", params=params).raise_for_status()
            latencies.append(time.perf_counter() - start)
    return {"run_dirs": LIST_RUNS, "requests": LIST_REQUESTS, "p50_ms": round(1000 * statistics.median(latencies), 2),
            "p99_ms": round(1000 * _percentile(latencies, 0.99), 2)}


def _steps_per_s(paths: RunPaths) -> float:
    meta = read_metadata(paths)
    started = datetime.fromisoformat(meta.started_at or meta.created_at)
    finished = datetime.fromisoformat(meta.finished_at or meta.updated_at)
    return meta.env_steps_total / (finished - started).total_seconds()


def _train_without_server(runs_root: Path, run_id: str) -> float:
    config_file = runs_root / "bench-config.json"
    runs_root.mkdir(parents=True, exist_ok=True)
    config_file.write_text(json.dumps(THROUGHPUT_CONFIG))
    args = [sys.executable, "-m", "trainer", "--run-root", str(runs_root), "--run-id", run_id, "--config", str(config_file)]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return _steps_per_s(RunPaths(runs_root / run_id))


async def _followed_run(url: str) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=600) as client:
        response = await client.post("/runs", json={**THROUGHPUT_CONFIG, "run_id": "served"})
        response.raise_for_status()
        port = int(url.rsplit(":", 1)[1])
        ready = [asyncio.Event() for _ in range(THROUGHPUT_CLIENTS)]
        clients = [_sse_client(port, "/runs/served/events", [], [], event) for event in ready]
        await asyncio.gather(*clients)


def bench_training_throughput(work: Path) -> dict[str, Any]:
    runs_root = work / "throughput"
    before = _train_without_server(runs_root, "alone-before")
    with serving(runs_root, work / "server-throughput.log") as server:
        asyncio.run(_followed_run(server.url))
    served = _steps_per_s(RunPaths(runs_root / "served"))
    after = _train_without_server(runs_root, "alone-after")
    alone = (before + after) / 2  # runs on either side of the served one, to cancel drift
    return {"config": THROUGHPUT_CONFIG, "sse_clients": THROUGHPUT_CLIENTS,
            "alone_steps_per_s": [round(before), round(after)],
            "served_steps_per_s": round(served), "ratio": round(served / alone, 3)}


def _write_followed_windows(runs: list[RunPaths]) -> None:
    """Append FOLLOW_WINDOWS windows round-robin over the runs, then complete them (a thread)."""
    appenders = [JsonlAppender(paths.windows) for paths in runs]
    next_at = time.monotonic()
    for index in range(FOLLOW_WINDOWS):
        next_at += FOLLOW_INTERVAL_S
        time.sleep(max(0.0, next_at - time.monotonic()))
        paths, window_id = runs[index % len(runs)], index // len(runs)
        record = window_record(window_id)
        appenders[index % len(runs)].append(record)
        update_status(paths, RunStatus.running, latest_window=record, windows_emitted=window_id + 1)
    for paths, appender in zip(runs, appenders):
        appender.close()
        update_status(paths, RunStatus.completed, exit_code=0)


async def _follow_idle_then_windows(port: int, pid: int, runs: list[RunPaths]) -> tuple[float, list[float]]:
    """Server CPU (% of a core) while every run is followed and idle; then window latencies."""
    latencies: list[float] = []
    ready = [asyncio.Event() for _ in runs]
    clients = [
        asyncio.create_task(_sse_client(port, f"/runs/{paths.run_id}/events", latencies, [], event))
        for paths, event in zip(runs, ready)
    ]
    await asyncio.gather(*(event.wait() for event in ready))
    await asyncio.sleep(1.0)  # followers and the watcher settle
    server = psutil.Process(pid)
    before, start = server.cpu_times(), time.monotonic()
    await asyncio.sleep(FOLLOW_IDLE_S)
    after, elapsed = server.cpu_times(), time.monotonic() - start
    cpu_s = (after.user + after.system) - (before.user + before.system)
    await asyncio.to_thread(_write_followed_windows, runs)
    await asyncio.wait_for(asyncio.gather(*clients), 60)
    return 100 * cpu_s / elapsed, latencies


def bench_follow(work: Path) -> dict[str, Any]:
    figures: dict[str, Any] = {"followed_runs": FOLLOW_RUNS, "idle_s": FOLLOW_IDLE_S, "windows": FOLLOW_WINDOWS}
    for mode, settings in FOLLOW_MODES.items():
        runs_root = work / f"follow-{mode}"
        runs = [make_run(runs_root, f"followed-{index}", RunStatus.running) for index in range(FOLLOW_RUNS)]
        locks = [RunLock(paths) for paths in runs]  # held here, as live trainers hold them
        for lock in locks:
            lock.acquire()
        try:
            with serving(runs_root, work / f"server-follow-{mode}.log", **settings) as server:
                cpu_percent, latencies = asyncio.run(_follow_idle_then_windows(server.port, server.proc.pid, runs))
        finally:
            for lock in locks:
                lock.release()
        figures[mode] = {
            "idle_server_cpu_percent": round(cpu_percent, 2),
            "p50_ms": round(1000 * statistics.median(latencies), 1),
            "p99_ms": round(1000 * _percentile(latencies, 0.99), 1),
            "windows_received": len(latencies),
        }
    return figures


def bench_service() -> None:
    """Print the service's figures (one JSON line per benchmark)."""
    with tempfile.TemporaryDirectory(prefix="bench-service-") as tmp:
        work = Path(tmp)
        for name, benchmark in [
            ("sse_fanout", bench_sse_fanout),
            ("get_run", bench_get_run),
            ("list_runs", bench_list_runs),
            ("training_throughput", bench_training_throughput),
            ("follow", bench_follow),
        ]:
            print(json.dumps({"service": name, **benchmark(work)}), flush=True)


if __name__ == "__main__":
    bench_service()
