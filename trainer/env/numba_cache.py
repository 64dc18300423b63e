"""Point numba's on-disk cache at a directory keyed by the env's source code.

numba checks a cached kernel against its own file's timestamp only, so editing a helper that
was inlined from another file (e.g. the RNG) would silently reuse stale machine code. Keying
the cache directory by a hash of every source file of this package (all numba kernels live
here) makes any edit a clean miss.
"""

import hashlib
import os
from pathlib import Path

import numba

_ENV_DIR = Path(__file__).resolve().parent


def use_source_keyed_cache() -> None:
    """Set numba's cache dir (unless NUMBA_CACHE_DIR is set) before any kernel is defined."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    digest = hashlib.sha256()
    for path in sorted(_ENV_DIR.glob("*.py")):
        digest.update(path.read_bytes())
    numba.config.CACHE_DIR = str(_ENV_DIR / "__pycache__" / f"numba-{digest.hexdigest()[:16]}")
