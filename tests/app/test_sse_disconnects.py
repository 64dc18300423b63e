"""SSE clients that connect and abort, against a real uvicorn: a disconnect is normal, so the
server log stays small (it used to get a `socket.send() raised exception.` line per event
written to each dead socket), and new clients are still served."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.store import RunStore
from tests.serving import Server
from trainer.config import TrainConfig
from trainer.rundir import JsonlAppender, RunLock, RunPaths, RunStatus, update_status

CLIENTS = 20
RECONNECTS = 10
HISTORY_WINDOWS = 300  # replayed to each new client: one write per window used to be one log line each


@pytest.fixture
def live_run(tmp_path: Path) -> Iterator[RunPaths]:
    """A `running` run with a long window history, its lock held here as a trainer would."""
    RunStore(tmp_path / "runs").create("live", TrainConfig())
    paths = RunPaths(tmp_path / "runs" / "live")
    update_status(paths, RunStatus.starting)
    update_status(paths, RunStatus.running)
    windows = JsonlAppender(paths.windows)
    for window_id in range(HISTORY_WINDOWS):
        windows.append({"window_id": window_id, "padding": "x" * 600})
    windows.close()
    lock = RunLock(paths)
    assert lock.acquire()
    yield paths
    lock.release()


async def _request(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /runs/live/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
    await writer.drain()
    return reader, writer


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST, as a killed client or a dropped network does."""
    writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _abort_at_once(port: int) -> None:
    _reset((await _request(port))[1])


async def _abort_after_headers(port: int) -> None:
    reader, writer = await _request(port)
    await reader.readuntil(b"\r\n\r\n")
    _reset(writer)


async def _snapshot_received(port: int) -> bool:
    reader, writer = await _request(port)
    try:
        status = await reader.readline()
        await reader.readuntil(b"event: snapshot")
    finally:
        _reset(writer)
    return b" 200 " in status


def _append_windows(paths: RunPaths, stop: threading.Event) -> None:
    """Keep the run live meanwhile: a window every 10 ms, as a fast trainer writes them."""
    windows = JsonlAppender(paths.windows)
    window_id = HISTORY_WINDOWS
    while not stop.wait(0.01):
        windows.append({"window_id": window_id, "padding": "x" * 600})
        window_id += 1
    windows.close()


async def _storm_then_connect(port: int, paths: RunPaths) -> list[bool]:
    aborts: list[Callable[[int], object]] = [_abort_at_once, _abort_after_headers]

    async def client(index: int) -> None:
        for attempt in range(RECONNECTS):
            await aborts[(index + attempt) % 2](port)

    stop = threading.Event()
    writer = asyncio.create_task(asyncio.to_thread(_append_windows, paths, stop))
    try:
        await asyncio.gather(*(client(index) for index in range(CLIENTS)))
    finally:
        stop.set()
        await writer
    return await asyncio.wait_for(asyncio.gather(*(_snapshot_received(port) for _ in range(CLIENTS))), 30)


def test_aborted_sse_clients_leave_the_log_small_and_new_clients_are_served(live_run: RunPaths, tmp_path) -> None:
    log = tmp_path / "server.log"
    server = Server(live_run.root.parent, log).start()
    try:
        served = asyncio.run(_storm_then_connect(server.port, live_run))
    finally:
        server.stop()
    lines = log.read_text().splitlines()
    assert served == [True] * CLIENTS
    assert not [line for line in lines if "socket.send() raised exception" in line]
    # at most an access-log line per connection, plus start-up and shut-down
    assert len(lines) <= CLIENTS * (RECONNECTS + 1) + 30
