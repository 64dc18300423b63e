"""Fixtures: real servers on free loopback ports, each with its own run root."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.serving import Server
from trainer.rundir import RunPaths, is_run_live, read_metadata


@pytest.fixture
def make_server(tmp_path: Path, warm_numba: None) -> Iterator[Callable[..., Server]]:
    """Start servers on a shared run root (tmp_path/runs); all are stopped at the end, and the
    trainers they started killed. The numba cache is warm first: these servers start trainers."""
    servers: list[Server] = []

    def make(**settings: Any) -> Server:
        server = Server(tmp_path / "runs", tmp_path / "server.log", **settings)
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.stop()
    kill_live_trainers(tmp_path / "runs")


def kill_live_trainers(runs_root: Path) -> None:
    """Trainers outlive their server by design; tests must not leave any behind."""
    if not runs_root.is_dir():
        return
    for run_dir in runs_root.iterdir():
        paths = RunPaths(run_dir)
        if is_run_live(paths):
            pid = read_metadata(paths).pid
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)


@pytest.fixture
def server(make_server: Callable[..., Server]) -> Server:
    return make_server()


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory, warm_numba: None) -> Iterator[Server]:
    """One server with the default settings for all of a module's tests, which name their own
    runs and leave none of them active: one server start instead of one per test."""
    root = tmp_path_factory.mktemp("module-server")
    with Server(root / "runs", root / "server.log") as server:
        yield server
    kill_live_trainers(root / "runs")
