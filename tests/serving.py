"""A real `python -m app` on a free loopback port, and a poll with a deadline: the one server
harness of the tests and of `make bench` (bench/ imports it)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx

from trainer.config import flag

T = TypeVar("T")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
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
    """`python -m app` on 127.0.0.1 and a free port, with its output in a log file; `settings`
    become flags (`follow_poll_s=0.1` is `--follow-poll-s 0.1`), the token goes in the environment."""

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
            args += [flag(name), str(value)]
        with open(self._log_path, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        with httpx.Client(timeout=1) as probe:  # one client: each httpx.get() builds an SSL context (~25 ms CPU)
            wait_for(lambda: self._healthy(probe), 60, "the server to answer /health")
        return self

    def _healthy(self, probe: httpx.Client) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"server exited with {self.proc.returncode}: {self._log_path.read_text()[-3000:]}")
        try:
            return probe.get(self.url + "/health").status_code == 200
        except httpx.TransportError:
            return False

    def client(self, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return httpx.Client(base_url=self.url, headers=headers, **{"timeout": 30, **kwargs})

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

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
