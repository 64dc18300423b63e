"""The step kernels allocate nothing: scans, world generation and auto-resets work in
preallocated rows, so numba's allocation count per `step` call does not grow with the batch."""

import os
import subprocess
import sys

# Counts numba allocations over 300 steps of a batch of 1 and of 64 envs (stats must be on
# before numba's runtime starts, hence a fresh interpreter). Each call allocates a few
# handles for its array arguments; only the kernels' own allocations depend on the batch.
_COUNT = """
from numba.core.runtime import rtsys
from trainer.env import ProspectorEnv, RandomValidPolicy
for observation in ("spec", "scouted"):
    for n in (1, 64):
        env = ProspectorEnv(num_envs=n, seed=3, observation=observation)
        policy = RandomValidPolicy(n, 3)
        env.reset()
        start = rtsys.get_allocation_stats().alloc
        for _ in range(300):
            env.step(policy.act(env.action_mask))
        s = env.state
        print(observation, n, rtsys.get_allocation_stats().alloc - start, s.scan_count.sum(), s.episode_index.sum())
"""


def test_allocations_per_step_do_not_depend_on_the_batch_or_on_what_happens_in_it():
    env = {**os.environ, "NUMBA_NRT_STATS": "1"}
    out = subprocess.run([sys.executable, "-c", _COUNT], env=env, check=True, capture_output=True, text=True)
    rows = [line.split() for line in out.stdout.splitlines()]
    for observation in ("spec", "scouted"):
        (_, _, alone, _, _), (_, _, batch, scans, episodes) = [row for row in rows if row[0] == observation]
        assert int(scans) > 50 and int(episodes) > 200  # the batch scanned and auto-reset
        assert int(batch) == int(alone), observation
