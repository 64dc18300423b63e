"""bench.ppo: the bound's malloc setting keeps freed temporaries for reuse."""

import platform
import subprocess
import sys

import pytest

# Minibatch-sized temporaries made and dropped in a loop; prints the page faults of a pass
# before and after keep_freed_memory (each after a warm-up pass).
SCRIPT = """
import resource
import numpy as np
from bench.ppo import keep_freed_memory

def faults_of_a_pass():
    start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(50):
        a = np.ones(2048 * 284, np.float32)
        b = a * 2
        c = b + a
        del a, b, c
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start

faults_of_a_pass()
before = faults_of_a_pass()
assert keep_freed_memory()
faults_of_a_pass()
print(before, faults_of_a_pass())
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="a glibc malloc setting")
def test_after_keep_freed_memory_minibatch_temporaries_no_longer_fault_their_pages_in():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=True)
    before, after = map(int, result.stdout.split())
    pages = 50 * 3 * 2048 * 284 * 4 // 4096  # every page of every temporary, once
    assert before > pages // 2  # by default most of them are faulted in afresh...
    assert after < pages // 100  # ...and with the setting hardly any
