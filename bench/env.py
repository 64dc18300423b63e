"""The environment alone: steps/s by batch size, compile and cache-hit start-up, greedy eval.

BENCH_ENV_SECONDS (default 3) sets how long each batch size is stepped.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

from bench.pipeline import env_only_sps
from trainer.evaluate import baseline_act, run_episodes

_FIRST_STEP = (
    "import time; t = time.perf_counter(); "
    "from trainer.env import ProspectorEnv, RandomValidPolicy; "
    "env = ProspectorEnv(num_envs=4, seed=0); env.reset(); "
    "env.step(RandomValidPolicy(4, 0).act(env.action_mask)); "
    "print(time.perf_counter() - t)"
)


def time_to_first_step(cache_dir: str) -> float:
    """Seconds from a fresh interpreter's first import to its first env step."""
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    out = subprocess.run([sys.executable, "-c", _FIRST_STEP], env=env, check=True, capture_output=True, text=True)
    return float(out.stdout.strip())


def bench_env() -> None:
    seconds = float(os.environ.get("BENCH_ENV_SECONDS", "3"))
    print("== env: ProspectorEnv + RandomValidPolicy, one thread, resets included")
    for num_envs in (1, 64, 1024):
        warm_steps = max(num_envs * 20, 2000)
        wall, _ = env_only_sps(num_envs, warm_steps)
        steps = max(num_envs, int(wall * seconds))
        wall, cpu = env_only_sps(num_envs, steps)
        print(f"  N={num_envs:<5} {wall:>12,.0f} steps/s (wall) {cpu:>12,.0f} steps/s (CPU)")
    with tempfile.TemporaryDirectory() as cache_dir:
        compile_s = time_to_first_step(cache_dir)
        cached_s = time_to_first_step(cache_dir)
    print(f"  first process, empty numba cache: {compile_s:.2f} s to the first step (compile)")
    print(f"  second process, cache hit:        {cached_s:.2f} s to the first step (target < 2 s)")
    run_episodes(baseline_act("greedy", 0), 8, seed=0)
    start = time.perf_counter()
    result = run_episodes(baseline_act("greedy", 0), 200, seed=12345)
    elapsed = time.perf_counter() - start
    steps = int(result.column("length").sum())
    print(f"  greedy evaluation: {200 / elapsed:.1f} episodes/s ({steps / elapsed:,.0f} env steps/s)")
