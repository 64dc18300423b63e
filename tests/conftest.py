"""Fixtures shared by every suite."""

from __future__ import annotations

import os

import pytest

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


# `make test` runs the suite on two xdist workers (`-n 2 --dist loadfile --no-loadscope-reorder`):
# each module runs on one worker, so its module fixtures (a server, a Ray head) start once. The
# longest modules are handed out first so that the two workers finish together; the rest keep
# their order.
LONGEST_FIRST = (
    "tests/dashboard/",
    "tests/app/test_restart.py",
    "tests/app/test_ray_launcher.py",
    "tests/app/test_runs.py",
    "tests/trainer/test_warmup.py",
    "tests/app/test_run_config.py",
    "tests/app/test_ray_integration.py",
    "tests/trainer/test_ppo.py",
)


def _rank(item: pytest.Item) -> int:
    path = item.nodeid.split("::")[0]
    return next((rank for rank, prefix in enumerate(LONGEST_FIRST) if path.startswith(prefix)), len(LONGEST_FIRST))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_rank)
