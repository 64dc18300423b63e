"""The env's kernels, compiled at most once per test session.

Every process of the suite (xdist workers, servers, trainers) uses the checkout's numba cache
(trainer.env.numba_cache). When it lacks the kernels (a fresh clone), the first worker that needs
them runs `python -m trainer.warmup` into a fresh cache of its own and copies that into it, under
a file lock in the session's directory; a worker that asks meanwhile waits, then only loads. That
run is the one tests/trainer/test_warmup.py checks; where the cache was warm already, that test
has the session run it (into a fresh cache still) without copying.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

# The kernels of a training run (the index files `python -m trainer.warmup` must leave).
RUN_KERNELS = frozenset(
    {
        "dynamics.step_batch",
        "dynamics.reset_batch",
        "dynamics.start_seeded_episodes",
        "baselines.sample_valid_actions",
        "baselines.prospector_actions",
    }
)


@dataclass(frozen=True)
class WarmUpRun:
    """The outcome of the session's `python -m trainer.warmup`, and the fresh cache it filled."""

    returncode: int
    stdout: str
    stderr: str
    cache_dir: str


def suite_cache() -> Path:
    """The numba cache this process (and every process it starts) uses."""
    import numba

    import trainer.env  # noqa: F401 (it points numba's cache at the checkout's)

    return Path(numba.config.CACHE_DIR)


def cached_kernels(cache: Path) -> set[str]:
    """The kernels `cache` holds compiled code of (module.function)."""
    return {path.name.split("-")[0] for path in cache.rglob("*.nbi")}


def copy_cache(source: Path, cache: Path) -> None:
    """Add the compiled kernels of `source` to `cache` as numba writes them (each file renamed
    into place), code before indexes: a process loading from `cache` meanwhile never reads half
    a file, nor an index naming code not there yet."""
    files = sorted(source.rglob("*.nb[ci]"), key=lambda path: path.suffix)  # .nbc, then .nbi
    for path in files:
        target = cache / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        shutil.copyfile(path, partial)
        os.replace(partial, target)


def warm_up_run(session: Path, cache: Path) -> WarmUpRun:
    """The session's `python -m trainer.warmup` into a fresh cache under `session`, copied into
    `cache` when that lacks a run's kernels: run once, by whichever process asks first."""
    result = session / "warm-up.json"
    with open(session / "warm-up.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not result.exists():
            fresh = session / "warm-up"
            fresh.mkdir()
            env = {"NUMBA_CACHE_DIR": str(fresh), "PATH": "/usr/bin:/bin"}
            proc = subprocess.run(
                [sys.executable, "-m", "trainer.warmup"], capture_output=True, text=True, timeout=600, env=env
            )
            if not RUN_KERNELS <= cached_kernels(cache):
                copy_cache(fresh, cache)
            result.write_text(json.dumps(asdict(WarmUpRun(proc.returncode, proc.stdout, proc.stderr, str(fresh)))))
    return WarmUpRun(**json.loads(result.read_text()))


def fill_cache(session: Path, cache: Path) -> None:
    """Make sure `cache` holds a run's kernels, by the session's warm-up run if it does not."""
    if not RUN_KERNELS <= cached_kernels(cache):
        warm_up_run(session, cache)
