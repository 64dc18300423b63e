"""`python -m trainer.warmup` fills numba's on-disk cache with the kernels a run uses.

The session runs it once, into a fresh cache of its own (tests.numba_cache); on a fresh clone
the suite then loads the kernels from a copy of that cache."""

from pathlib import Path

from tests.numba_cache import RUN_KERNELS, WarmUpRun, cached_kernels


def test_warmup_fills_a_fresh_cache_with_the_kernels_a_run_uses(numba_warm_up: WarmUpRun):
    assert numba_warm_up.returncode == 0, numba_warm_up.stderr
    assert numba_warm_up.stdout.startswith("numba kernels ready in ")
    assert RUN_KERNELS <= cached_kernels(Path(numba_warm_up.cache_dir))
