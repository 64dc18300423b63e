"""app.ray_jobs against the fake Jobs server (tests/app/fake_ray.py): real HTTP, real processes."""

from __future__ import annotations

import asyncio
import shlex
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from app.ray_jobs import RayHeadUnreachable, RayJobInfo, RayJobNotFound, RayJobsClient, RayJobsError
from tests.app.fake_ray import FakeRayHead
from tests.serving import free_port

T = TypeVar("T")
TOKEN = "fake-ray-token"


@pytest.fixture
def head(tmp_path: Path) -> Iterator[FakeRayHead]:
    fake = FakeRayHead(free_port(), tmp_path / "fake-ray.log", num_cpus=1, token=TOKEN).start()
    yield fake
    fake.stop()


def with_client(head: FakeRayHead, body: Callable[[RayJobsClient], Awaitable[T]], token: str = TOKEN) -> T:
    async def run() -> T:
        client = RayJobsClient(head.address, token=token, timeout_s=5)
        try:
            return await body(client)
        finally:
            await client.aclose()

    return asyncio.run(run())


async def until_ended(client: RayJobsClient, submission_id: str, timeout_s: float = 30) -> RayJobInfo:
    async with asyncio.timeout(timeout_s):
        while not (info := await client.info(submission_id)).status.terminal:
            await asyncio.sleep(0.05)
    return info


async def until_running(client: RayJobsClient, submission_id: str, timeout_s: float = 30) -> None:
    async with asyncio.timeout(timeout_s):
        while (await client.info(submission_id)).status != "RUNNING":
            await asyncio.sleep(0.05)


def python_entrypoint(code: str) -> str:
    return f"exec {shlex.quote(sys.executable)} -c {shlex.quote(code)}"


def test_a_job_runs_with_its_env_vars_and_succeeds(head: FakeRayHead, tmp_path: Path) -> None:
    out = tmp_path / "out"

    async def body(client: RayJobsClient) -> RayJobInfo:
        assert (await client.version()).startswith("2.")
        await client.submit("run-a.1", f"echo $GREETING > {out}", env_vars={"GREETING": "hello"}, num_cpus=1,
                            metadata={"run_id": "run-a"})
        return await until_ended(client, "run-a.1")

    info = with_client(head, body)
    assert (info.status, info.driver_exit_code) == ("SUCCEEDED", 0)
    assert out.read_text() == "hello\n"


def test_a_failing_job_reports_its_exit_code(head: FakeRayHead) -> None:
    async def body(client: RayJobsClient) -> RayJobInfo:
        await client.submit("run-b.1", "exit 3", env_vars={}, num_cpus=1, metadata={})
        return await until_ended(client, "run-b.1")

    info = with_client(head, body)
    assert (info.status, info.driver_exit_code, info.error_type) == ("FAILED", 3, "JOB_ENTRYPOINT_COMMAND_ERROR")


def test_stop_sends_sigterm_and_kills_after_the_jobs_wait_time(head: FakeRayHead, tmp_path: Path) -> None:
    graceful, stubborn = tmp_path / "graceful", tmp_path / "stubborn"
    polite = (
        "import pathlib, signal, sys, time\n"
        f"signal.signal(signal.SIGTERM, lambda *a: (pathlib.Path({str(graceful)!r}).write_text('term'), sys.exit(143)))\n"
        f"pathlib.Path({str(graceful)!r}).write_text('up')\n"
        "time.sleep(60)\n"
    )
    deaf = (
        "import pathlib, signal, time\n"
        f"signal.signal(signal.SIGTERM, lambda *a: pathlib.Path({str(stubborn)!r}).write_text('ignored'))\n"
        f"pathlib.Path({str(stubborn)!r}).write_text('up')\n"
        "time.sleep(60)\n"
    )

    async def body(client: RayJobsClient) -> tuple[RayJobInfo, RayJobInfo, bool]:
        await client.submit("polite.1", python_entrypoint(polite), env_vars={}, num_cpus=0.5, metadata={})
        await client.submit("deaf.1", python_entrypoint(deaf), env_vars={"RAY_JOB_STOP_WAIT_TIME_S": "1"},
                            num_cpus=0.5, metadata={})
        for sid, flag in (("polite.1", graceful), ("deaf.1", stubborn)):
            await until_running(client, sid)
            async with asyncio.timeout(30):
                while not flag.exists():
                    await asyncio.sleep(0.05)
            assert await client.stop(sid)
        polite_info, deaf_info = await until_ended(client, "polite.1"), await until_ended(client, "deaf.1")
        return polite_info, deaf_info, await client.stop("polite.1")

    polite_info, deaf_info, stopped_again = with_client(head, body)
    assert polite_info.status == deaf_info.status == "STOPPED"
    assert graceful.read_text() == "term"
    assert stubborn.read_text() == "ignored"  # it got SIGTERM, ignored it, and was killed anyway
    assert not stopped_again


def test_a_duplicate_submission_id_is_refused_in_one_line(head: FakeRayHead) -> None:
    async def body(client: RayJobsClient) -> None:
        await client.submit("dup.1", "true", env_vars={}, num_cpus=0, metadata={})
        await client.submit("dup.1", "true", env_vars={}, num_cpus=0, metadata={})

    with pytest.raises(RayJobsError, match="already exists") as caught:
        with_client(head, body)
    assert "Traceback" not in str(caught.value)


def test_delete_right_after_the_end_stays_deleted(head: FakeRayHead) -> None:
    async def body(client: RayJobsClient) -> None:
        await client.submit("gone.1", "true", env_vars={}, num_cpus=0, metadata={})
        await until_ended(client, "gone.1")
        await client.delete("gone.1")  # the fake brings a job deleted this early back, once
        await asyncio.sleep(0.5)
        with pytest.raises(RayJobNotFound):
            await client.info("gone.1")
        await client.delete("never-submitted.1")

    with_client(head, body)


def test_a_running_job_cannot_be_deleted(head: FakeRayHead) -> None:
    async def body(client: RayJobsClient) -> None:
        await client.submit("busy.1", "sleep 30", env_vars={"RAY_JOB_STOP_WAIT_TIME_S": "0"}, num_cpus=0, metadata={})
        await until_running(client, "busy.1")
        try:
            with pytest.raises(RayJobsError, match="non-terminal"):
                await client.delete("busy.1")
        finally:
            await client.stop("busy.1")

    with_client(head, body)


def test_a_head_that_went_away_is_unreachable_and_forgets_its_jobs_when_back(head: FakeRayHead) -> None:
    async def submit(client: RayJobsClient) -> None:
        await client.submit("lost.1", "sleep 30", env_vars={}, num_cpus=0, metadata={})
        await until_running(client, "lost.1")

    with_client(head, submit)
    head.stop()
    with pytest.raises(RayHeadUnreachable):
        with_client(head, lambda client: client.info("lost.1"))
    head.start()
    with pytest.raises(RayJobNotFound):
        with_client(head, lambda client: client.info("lost.1"))


def test_a_wrong_token_is_refused(head: FakeRayHead) -> None:
    with pytest.raises(RayJobsError, match="401"):
        with_client(head, lambda client: client.version(), token="wrong")
