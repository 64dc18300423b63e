"""Fixtures shared by every suite."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from xdist.workermanage import WorkerController

from tests.numba_cache import WarmUpRun, fill_cache, suite_cache, warm_up_run
from tests.scheduling import UnitScheduling, rank

# One OpenMP thread for torch in this process, as every trainer has by default (torch_threads=1):
# on a few busy cores, two threads spinning on each other made one PPO test 20 times slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")

# A directory of the whole session, shared by its xdist workers (tests.numba_cache).
SESSION_DIR = pytest.StashKey[Path]()


def pytest_configure(config: pytest.Config) -> None:
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        config.stash[SESSION_DIR] = Path(tempfile.mkdtemp(prefix="prospector-tests-"))
    else:
        config.stash[SESSION_DIR] = Path(workerinput["session_dir"])


@pytest.hookimpl(optionalhook=True)  # xdist's hook: what a worker is started with
def pytest_configure_node(node: WorkerController) -> None:
    node.workerinput["session_dir"] = str(node.config.stash[SESSION_DIR])


def pytest_unconfigure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):
        shutil.rmtree(config.stash[SESSION_DIR])


@pytest.fixture(scope="session")
def numba_warm_up(pytestconfig: pytest.Config) -> WarmUpRun:
    """The session's one `python -m trainer.warmup` into a fresh cache (tests.numba_cache)."""
    return warm_up_run(pytestconfig.stash[SESSION_DIR], suite_cache())


@pytest.fixture(scope="session")
def warm_numba(pytestconfig: pytest.Config) -> None:
    """The env's numba kernels in their on-disk cache, compiled there once per session if it
    lacks them (tests.numba_cache), and loaded in this process: in-process trainers and envs find
    them loaded, trainer subprocesses load them from disk, so no test's deadline is charged a
    compile (tens of seconds). Requested by the tests that start trainers or step envs."""
    from trainer.warmup import warm_up

    fill_cache(pytestconfig.stash[SESSION_DIR], suite_cache())
    warm_up()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest units first (tests.scheduling), for `make test`'s two workers."""
    items.sort(key=lambda item: rank(item.nodeid))


@pytest.hookimpl(optionalhook=True)  # xdist's hook
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> UnitScheduling | None:
    return UnitScheduling(config, log) if config.getvalue("dist") == "loadfile" else None
