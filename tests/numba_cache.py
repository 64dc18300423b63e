"""The suite's numba cache: the env's kernels are compiled once per test session.

The session (`tests/conftest.py`, before any worker starts) points NUMBA_CACHE_DIR at
`kernels/` in a new directory, which every xdist worker and every process they start inherits.
The first worker to need the kernels runs `python -m trainer.warmup` into a fresh cache of its
own (`warm-up/`, what tests/trainer/test_warmup.py checks) and copies what it compiled into
`kernels/`; a worker that asks meanwhile waits for it (a file lock) and then only loads.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

_KERNELS = "kernels"


@dataclass(frozen=True)
class WarmUpRun:
    """The outcome of the session's `python -m trainer.warmup`, and the fresh cache it filled."""

    returncode: int
    stdout: str
    stderr: str
    cache_dir: str


def new_session_cache() -> Path:
    """A new directory for the session's numba caches; its `kernels/` is the suite's NUMBA_CACHE_DIR."""
    return Path(tempfile.mkdtemp(prefix="prospector-numba-")) / _KERNELS


def warm_up_once(kernels: Path) -> WarmUpRun:
    """Run `python -m trainer.warmup` into a fresh cache beside `kernels` and copy that cache into
    `kernels`, once per session whichever process asks first; the others get the same outcome."""
    session = kernels.parent
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
            shutil.copytree(fresh, kernels, dirs_exist_ok=True)
            run = WarmUpRun(proc.returncode, proc.stdout, proc.stderr, str(fresh))
            result.write_text(json.dumps(asdict(run)))
    return WarmUpRun(**json.loads(result.read_text()))


def remove_session_cache(kernels: Path) -> None:
    """Delete the session's numba caches."""
    shutil.rmtree(kernels.parent)
