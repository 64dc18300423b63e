"""`python -m bench`: runs every part, or the parts named; a name it does not know is refused
before anything runs, naming it and the parts there are."""

from __future__ import annotations

import subprocess
import sys

from bench.__main__ import BENCHMARKS


def run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True, timeout=120)


def test_an_unknown_part_is_refused_naming_it_and_the_parts_there_are():
    result = run_bench("env", "nope")
    assert result.returncode == 2
    assert "unknown benchmark part 'nope'" in result.stderr
    assert all(part in result.stderr for part in BENCHMARKS)
    assert result.stdout == ""  # not even the named part that exists ran


def test_help_lists_every_part():
    result = run_bench("--help")
    assert result.returncode == 0
    assert all(part in result.stdout for part in BENCHMARKS)
