"""Fixtures shared by every suite."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def warm_numba() -> None:
    """Compile the env's numba kernels once, in this process, into their on-disk cache: in-process
    trainers then find them loaded, and trainer subprocesses load them from disk, so no test's
    deadline is charged the first compile (tens of seconds on a fresh checkout). Requested by the
    tests that start trainers."""
    from trainer.warmup import warm_up

    warm_up()
