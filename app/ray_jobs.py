"""A client of Ray's Jobs REST API (the dashboard's `/api/jobs/`), over httpx.

The server talks to a Ray cluster only through this module and never imports ray. Ray answers
errors with a Python traceback in the body; only its last line reaches our errors and logs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from enum import StrEnum
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict

# Ray may bring a job deleted right after it ended back as FAILED (its supervisor actor reports
# its own death late); a deletion is checked after each of these pauses and repeated if needed.
DELETE_CHECK_DELAYS_S = (0.5, 1.0, 2.0)


class RayJobStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"

    @property
    def terminal(self) -> bool:
        return self in (RayJobStatus.STOPPED, RayJobStatus.SUCCEEDED, RayJobStatus.FAILED)


class RayJobInfo(BaseModel):
    """What `GET /api/jobs/{submission_id}` says about a job (the fields we use)."""

    model_config = ConfigDict(extra="ignore")

    submission_id: str
    status: RayJobStatus
    message: str | None = None
    error_type: str | None = None
    driver_exit_code: int | None = None
    driver_node_id: str | None = None
    driver_agent_http_address: str | None = None


class RayJobsError(Exception):
    """The Ray head refused a request or could not be asked."""


class RayHeadUnreachable(RayJobsError):
    """No answer from the Ray head (down, restarting, or the address is wrong)."""


class RayJobNotFound(RayJobsError):
    """The head does not know the job (never submitted, deleted, or forgotten by a head restart)."""


class RayJobsClient:
    """The Jobs REST API of the Ray head at `address` (the dashboard URL, e.g. http://head:8265)."""

    def __init__(
        self,
        address: str,
        *,
        token: str | None = None,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.address = address.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.AsyncClient(
            base_url=self.address, headers=headers, timeout=timeout_s, transport=transport
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def version(self) -> str:
        """The head's Ray version (a cheap check that it answers and accepts our token)."""
        body = await self._request("GET", "/api/version")
        return str(body.get("ray_version", "unknown"))

    async def submit(
        self,
        submission_id: str,
        entrypoint: str,
        *,
        env_vars: Mapping[str, str],
        num_cpus: float,
        metadata: Mapping[str, str],
    ) -> None:
        """Submit a job; RayJobsError if the head refuses it (e.g. the id already exists)."""
        body = {
            "submission_id": submission_id,
            "entrypoint": entrypoint,
            "runtime_env": {"env_vars": dict(env_vars)},
            "entrypoint_num_cpus": num_cpus,
            "metadata": dict(metadata),
        }
        await self._request("POST", "/api/jobs/", json=body)

    async def info(self, submission_id: str) -> RayJobInfo:
        """The job's status; RayJobNotFound if the head does not know it."""
        return RayJobInfo.model_validate(await self._request("GET", _job_path(submission_id)))

    async def stop(self, submission_id: str) -> bool:
        """Ask Ray to stop the job (SIGTERM, then SIGKILL after its RAY_JOB_STOP_WAIT_TIME_S);
        False if it had already ended."""
        body = await self._request("POST", _job_path(submission_id) + "/stop")
        return bool(body.get("stopped"))

    async def delete(self, submission_id: str) -> None:
        """Remove an ended job's record from the head, making sure it stays gone; a job the head
        does not know is already deleted."""
        for delay in DELETE_CHECK_DELAYS_S:
            try:
                await self._request("DELETE", _job_path(submission_id))
            except RayJobNotFound:
                return
            await asyncio.sleep(delay)
            try:
                await self.info(submission_id)
            except RayJobNotFound:
                return
        raise RayJobsError(f"Ray job {submission_id} keeps coming back after deletion")

    async def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise RayHeadUnreachable(f"cannot reach the Ray head at {self.address}: {exc!r}") from None
        if response.status_code == httpx.codes.NOT_FOUND:
            raise RayJobNotFound(f"Ray head {self.address}: {_last_line(response.text)}")
        if response.is_error:
            raise RayJobsError(
                f"Ray head {self.address} answered {method} {path} with {response.status_code}: "
                f"{_last_line(response.text)}"
            )
        try:
            body = response.json()
        except ValueError:
            raise RayJobsError(f"Ray head {self.address} answered {method} {path} with no JSON") from None
        return body if isinstance(body, dict) else {}


def _job_path(submission_id: str) -> str:
    return "/api/jobs/" + quote(submission_id, safe="")


def _last_line(text: str, limit: int = 300) -> str:
    """The last meaningful line of an error body (a traceback's exception line), shortened."""
    lines = [line.strip() for line in text.splitlines() if line.strip() not in ("", ".")]
    return (lines[-1] if lines else "(empty body)")[:limit]
