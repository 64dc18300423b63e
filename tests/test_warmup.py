"""`python -m trainer.warmup` fills numba's cache: a second process then compiles nothing."""

import subprocess
import sys


def test_warmup_runs_and_reports():
    proc = subprocess.run([sys.executable, "-m", "trainer.warmup"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("numba kernels ready in ")
