"""Fixtures shared by every suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.numba_cache import WarmUpRun, new_session_cache, remove_session_cache, warm_up_once
from tests.scheduling import UnitScheduling, rank

# One OpenMP thread for torch in this process, as every trainer has by default (torch_threads=1):
# on a few busy cores, two threads spinning on each other made one PPO test 20 times slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def pytest_configure(config: pytest.Config) -> None:
    """In the session's first process, before xdist starts its workers (they inherit it): the
    suite's own numba cache (tests.numba_cache)."""
    if not hasattr(config, "workerinput"):
        os.environ["NUMBA_CACHE_DIR"] = str(new_session_cache())


def pytest_unconfigure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):
        remove_session_cache(Path(os.environ["NUMBA_CACHE_DIR"]))


@pytest.fixture(scope="session")
def numba_warm_up() -> WarmUpRun:
    """The session's one `python -m trainer.warmup` (tests.numba_cache)."""
    return warm_up_once(Path(os.environ["NUMBA_CACHE_DIR"]))


@pytest.fixture(scope="session")
def warm_numba(numba_warm_up: WarmUpRun) -> None:
    """The env's numba kernels loaded in this process, from the session's cache that
    `numba_warm_up` filled: in-process trainers and envs then find them loaded, and trainer
    subprocesses load them from disk, so no test's deadline is charged a compile (tens of
    seconds). Requested by the tests that start trainers or step envs."""
    from trainer.warmup import warm_up

    warm_up()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest units first (tests.scheduling), for `make test`'s two workers."""
    items.sort(key=lambda item: rank(item.nodeid))


@pytest.hookimpl(optionalhook=True)  # xdist's hook
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> UnitScheduling | None:
    return UnitScheduling(config, log) if config.getvalue("dist") == "loadfile" else None
