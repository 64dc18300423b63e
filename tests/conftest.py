"""Fixtures shared by every suite."""

from __future__ import annotations

import os

import pytest

from tests.scheduling import UnitScheduling, rank

# One OpenMP thread for torch in this process, as every trainer has by default (torch_threads=1):
# on a few busy cores, two threads spinning on each other made one PPO test 20 times slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def warm_numba() -> None:
    """Compile the env's numba kernels once, in this process, into their on-disk cache: in-process
    trainers then find them loaded, and trainer subprocesses load them from disk, so no test's
    deadline is charged the first compile (tens of seconds on a fresh checkout). Requested by the
    tests that start trainers."""
    from trainer.warmup import warm_up

    warm_up()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest units first (tests.scheduling), for `make test`'s two workers."""
    items.sort(key=lambda item: rank(item.nodeid))


@pytest.hookimpl(optionalhook=True)  # xdist's hook
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> UnitScheduling | None:
    return UnitScheduling(config, log) if config.getvalue("dist") == "loadfile" else None
