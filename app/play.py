"""Play sessions: games a person plays through the API, hosted by one worker process.

The env needs numba (and a policy torch), which the server never imports, so the games run in
`python -m trainer.play`, started on the first session and spoken to one JSON line at a time.
The server keeps what it needs to refuse requests without asking the worker: each session's
valid actions and whether its episode is over, the session cap and idle expiry.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import sys
import time
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


class PlayError(Exception):
    """A request the sessions refuse; `status` is the HTTP status to answer with."""

    status = 409


class SessionNotFound(PlayError):
    status = 404


class TooManySessions(PlayError):
    status = 429


class WorkerFailed(PlayError):
    status = 503


class InvalidAction(PlayError):
    """An action outside 0..68 or one the mask forbids now."""

    def __init__(self, action: int, valid: list[int]) -> None:
        super().__init__(f"action {action} is not valid now")
        self.action = action
        self.valid = valid


class PlayWorker:
    """The worker subprocess: started on first use, restarted if it died; one request at a time."""

    def __init__(self, command: list[str] | None = None) -> None:
        self._command = command or [sys.executable, "-m", "trainer.play"]
        self._process: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()
        self.generation = 0  # bumped at each start: sessions of an earlier worker are gone

    async def request(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The worker's result for `payload`; PlayError if it refused, WorkerFailed if it died."""
        async with self._lock:
            if self._process is None or self._process.returncode is not None:
                self._process = await asyncio.create_subprocess_exec(
                    *self._command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
                )
                self.generation += 1
            stdin, stdout = self._process.stdin, self._process.stdout
            if stdin is None or stdout is None:
                raise WorkerFailed("the play worker has no pipes")
            try:
                stdin.write(json.dumps(payload).encode() + b"\n")
                await stdin.drain()
                line = await stdout.readline()
            except (BrokenPipeError, ConnectionResetError):
                line = b""
            if not line:
                await self._process.wait()
                raise WorkerFailed(f"the play worker exited ({self._process.returncode}); its sessions are gone")
        response = json.loads(line)
        if not response["ok"]:
            raise PlayError(response["error"])
        return response["result"]

    async def close(self) -> None:
        if self._process is not None and self._process.returncode is None and self._process.stdin is not None:
            self._process.stdin.close()  # the worker exits at the end of its input
            try:
                await asyncio.wait_for(self._process.wait(), 5)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()


@dataclass
class Session:
    sid: str
    generation: int
    valid_actions: list[int]
    done: bool
    last_used: float = field(default_factory=time.monotonic)


class PlaySessions:
    """The live sessions: at most `max_sessions`, each closed after `idle_s` without a request."""

    def __init__(self, worker: PlayWorker, max_sessions: int, idle_s: float) -> None:
        self.worker = worker
        self.max_sessions = max_sessions
        self.idle_s = idle_s
        self._sessions: dict[str, Session] = {}

    async def start(self, seed: int, time_max: int) -> tuple[Session, dict[str, Any]]:
        await self.expire()
        if len(self._sessions) >= self.max_sessions:
            raise TooManySessions(f"{self.max_sessions} play sessions are open (PROSPECTOR_PLAY_MAX_SESSIONS)")
        sid = secrets.token_hex(8)
        view = await self.worker.request({"op": "start", "sid": sid, "seed": seed, "time_max": time_max})
        session = Session(sid, self.worker.generation, view["valid_actions"], view["done"])
        self._sessions[sid] = session
        return session, view

    async def step(self, sid: str, action: int) -> dict[str, Any]:
        session = await self._get(sid)
        if session.done:
            raise PlayError("the episode is over: reset the session")
        if action not in session.valid_actions:
            raise InvalidAction(action, session.valid_actions)
        return await self._send(session, {"op": "step", "sid": sid, "action": action})

    async def reset(self, sid: str) -> dict[str, Any]:
        return await self._send(await self._get(sid), {"op": "reset", "sid": sid})

    async def agent(self, sid: str, checkpoint: str, mode: str, steps: int) -> dict[str, Any]:
        session = await self._get(sid)
        if session.done:
            raise PlayError("the episode is over: reset the session")
        request = {"op": "agent", "sid": sid, "checkpoint": checkpoint, "mode": mode, "steps": steps}
        return await self._send(session, request)

    async def close(self, sid: str) -> None:
        session = await self._get(sid)
        del self._sessions[sid]
        await self.worker.request({"op": "close", "sid": session.sid})

    async def expire(self) -> None:
        """Close the sessions idle for longer than idle_s, and those of a worker that died."""
        now = time.monotonic()
        for session in list(self._sessions.values()):
            if session.generation != self.worker.generation:
                del self._sessions[session.sid]
            elif now - session.last_used > self.idle_s:
                del self._sessions[session.sid]
                await self.worker.request({"op": "close", "sid": session.sid})
                log.info("play session %s expired after %.0f s idle", session.sid, self.idle_s)

    def count(self) -> int:
        return len(self._sessions)

    async def _get(self, sid: str) -> Session:
        await self.expire()
        session = self._sessions.get(sid)
        if session is None:
            raise SessionNotFound(f"no play session {sid} (closed, expired or never opened)")
        session.last_used = time.monotonic()
        return session

    async def _send(self, session: Session, request: dict[str, Any]) -> dict[str, Any]:
        try:
            view = await self.worker.request(request)
        except WorkerFailed:
            self._sessions.pop(session.sid, None)
            raise
        session.valid_actions, session.done = view["valid_actions"], view["done"]
        return view
