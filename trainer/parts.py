"""The batch in parts: contiguous row ranges, each handled by its own thread.

With `batch_threads` k > 1, the native vector env and the PPO backend cut the batch into k
parts: each part's envs are acted on and stepped, and each part of every minibatch is
differentiated, by one thread. numba's step kernel (compiled `nogil`) and torch's operators
release the GIL, so the parts run in parallel on k cores, and while one part's envs step
another part's policy runs (EnvPool-style). A thread whose core is busy only delays its own
part: the others wait for it blocked, not spinning (torch's OpenMP threads spin, and ran 6x
slower when the other core was busy). Parts are claimed, not assigned: a thread that finds no
part left stops, so when the other core is busy the calling thread runs every part itself
instead of waiting for a thread that has not started.

Results depend on k, never on timing: every part owns its rows and its random stream, and
parts are combined in part order. `PartRunner(k, threaded=False)` does the same work in part
order on the calling thread (the reference the tests compare against).
"""

from __future__ import annotations

import itertools
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def batch_parts(size: int, parts: int) -> list[slice]:
    """`parts` contiguous slices covering range(size), their lengths differing by at most one."""
    bounds = [size * k // parts for k in range(parts + 1)]
    return [slice(lo, hi) for lo, hi in zip(bounds, bounds[1:])]


def _same_torch_threads() -> Callable[[], None] | None:
    """A thread initializer giving a new thread this thread's torch thread count (its OpenMP/MKL
    would use every core), or None when torch is not loaded: only the PPO backend imports it,
    and it does so before the runners are made."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    threads = torch.get_num_threads()
    return lambda: torch.set_num_threads(threads)


class PartRunner:
    """Runs a function once per part, on the calling thread and a pool of parts - 1 threads."""

    def __init__(self, parts: int, threaded: bool = True) -> None:
        self.parts = parts
        self._pool = (
            ThreadPoolExecutor(parts - 1, thread_name_prefix="batch-part", initializer=_same_torch_threads())
            if threaded and parts > 1
            else None
        )

    def map(self, fn: Callable[[int], T]) -> list[T]:
        """[fn(0), ..., fn(parts - 1)], run in parallel when threaded (each part by whichever
        thread claims it first); the first exception is raised once every part has finished."""
        if self._pool is None:
            return [fn(k) for k in range(self.parts)]
        results: list[T | None] = [None] * self.parts
        errors: list[BaseException] = []
        finished = [threading.Event() for _ in range(self.parts)]
        claim = itertools.count().__next__  # atomic under the GIL

        def drain() -> None:
            while (k := claim()) < self.parts:
                try:
                    results[k] = fn(k)
                except BaseException as exc:  # re-raised on the calling thread below
                    errors.append(exc)
                finally:
                    finished[k].set()

        for _ in range(self.parts - 1):
            self._pool.submit(drain)
        drain()
        for event in finished:
            event.wait()
        if errors:
            raise errors[0]
        return results  # type: ignore[return-value]

    def close(self) -> None:
        """Stop the pool's threads."""
        if self._pool is not None:
            self._pool.shutdown()
