"""The environment alone: steps/s by batch size against a bound, compile and cache-hit
start-up, greedy eval.

The bound is the same batch loop doing only the unavoidable work of a step: for every env,
draw what a HOLD step draws (the market's 6 normals and 2 uniforms), write the observation
row and the 69 mask bits; both loops take their actions from RandomValidPolicy (whose choice
costs the same on the bound's random mask bits as on the env's masks). Env and bound
alternate, REPEATS times each per batch size, and the best of each is printed (rates per CPU
second of this process: steadier on a shared machine).
BENCH_ENV_SECONDS (default 1) sets how long each repetition steps.

A second figure takes both cores: the trainer's own native vector env and random backend at
N=1024 with `batch_threads` 2 (each half of the batch acted on and stepped by its own thread)
against 1, in wall-clock steps/s.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from numba import njit

from trainer.backends import RandomBackend
from trainer.config import TrainConfig
from trainer.env import N_ACTIONS, OBS_DIM, ProspectorEnv, RandomValidPolicy
from trainer.env.rng import normal, uniform01
from trainer.env.rules import A_CASH_OUT, N_COMMODITIES
from trainer.evaluate import baseline_act, run_episodes
from trainer.vector import NativeVectorEnv

BATCH_SIZES = (1, 64, 256, 1024, 4096)
REPEATS = 3
_MARKET_UNIFORMS = 2  # the node hazard's jitter and the pirate roll


@njit(cache=True)
def bound_step(rng, observations, action_mask):
    """The unavoidable work of one step of every env: its draws, its observation row, its mask."""
    for i in range(observations.shape[0]):
        x = 0.0
        for _ in range(N_COMMODITIES):
            x += normal(rng, i, 0.0, 1.0)
        for _ in range(_MARKET_UNIFORMS):
            x += uniform01(rng, i)
        for j in range(observations.shape[1]):
            observations[i, j] = x * j
        bits = rng[i]
        for a in range(N_ACTIONS):
            action_mask[i, a] = (bits >> np.uint64(a % 64)) & np.uint64(1) == np.uint64(1)
        action_mask[i, A_CASH_OUT] = True


class BoundEnv:
    """`bound_step` behind `ProspectorEnv.step`'s call: same buffers, same policy input."""

    def __init__(self, num_envs: int) -> None:
        self.rng = np.arange(1, num_envs + 1, dtype=np.uint64)
        self.observations = np.zeros((num_envs, OBS_DIM), dtype=np.float32)
        self.action_mask = np.zeros((num_envs, N_ACTIONS), dtype=bool)
        bound_step(self.rng, self.observations, self.action_mask)

    def step(self, actions: np.ndarray) -> None:
        bound_step(self.rng, self.observations, self.action_mask)


def steps_per_cpu_second(env: ProspectorEnv | BoundEnv, policy: RandomValidPolicy, seconds: float) -> float:
    """Env steps per CPU second of `env.step(policy.act(mask))` over about `seconds`."""
    num_envs = env.action_mask.shape[0]
    batches, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        for _ in range(max(1, 4096 // num_envs)):
            env.step(policy.act(env.action_mask))
        batches += max(1, 4096 // num_envs)
    return batches * num_envs / (time.process_time() - cpu)


def env_and_bound(num_envs: int, seconds: float) -> tuple[float, float]:
    """Best steps/s of the env and of its bound at `num_envs`, measured alternately."""
    env = ProspectorEnv(num_envs=num_envs, seed=0)
    env.reset()
    bound = BoundEnv(num_envs)
    runs: dict[str, list[float]] = {"env": [], "bound": []}
    policies = {"env": RandomValidPolicy(num_envs, 0), "bound": RandomValidPolicy(num_envs, 0)}
    measured: dict[str, ProspectorEnv | BoundEnv] = {"env": env, "bound": bound}
    for name in runs:  # warm up: compile, fault in the pages, reach steady-state episodes
        steps_per_cpu_second(measured[name], policies[name], seconds / 2)
    for _ in range(REPEATS):
        for name in runs:
            runs[name].append(steps_per_cpu_second(measured[name], policies[name], seconds))
    return max(runs["env"]), max(runs["bound"])


def batch_threads_rates(num_envs: int, seconds: float) -> dict[int, float]:
    """Best wall-clock env steps/s of the trainer's native env and random backend (the 260-value
    observation) at batch_threads 1 and 2, measured alternately."""
    trainers: dict[int, tuple[NativeVectorEnv, RandomBackend]] = {}
    for threads in (1, 2):
        config = TrainConfig(num_envs=num_envs, batch_threads=threads, env_observation="spec", seed=0)
        trainers[threads] = (NativeVectorEnv(config), RandomBackend(config))
    rates: dict[int, list[float]] = {threads: [] for threads in trainers}
    for repeat in range(REPEATS + 1):  # the first round warms up
        for threads, (vector, backend) in trainers.items():
            batches, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds:
                vector.act_and_step(backend.act)
                batches += 1
            if repeat:
                rates[threads].append(batches * num_envs / (time.perf_counter() - start))
    for vector, _ in trainers.values():
        vector.close()
    return {threads: max(values) for threads, values in rates.items()}


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
    seconds = float(os.environ.get("BENCH_ENV_SECONDS", "1"))
    print("== env: ProspectorEnv + RandomValidPolicy, one thread, resets included (steps per CPU s)")
    print("  (target at N=1024: env / bound >= 0.5 and >= 2,000,000 env steps/s)")
    print(f"  {'N':>5} {'env steps/s':>14} {'bound steps/s':>14} {'env / bound':>12}")
    for num_envs in BATCH_SIZES:
        env, bound = env_and_bound(num_envs, seconds)
        print(f"  {num_envs:>5} {env:>14,.0f} {bound:>14,.0f} {env / bound:>12.2f}")
    rates = batch_threads_rates(1024, seconds)
    print(
        f"  both cores, N=1024 (the trainer's native env and random backend, --batch-threads 2): "
        f"{rates[2]:,.0f} env steps/s wall, {rates[2] / rates[1]:.2f}x its one thread ({rates[1]:,.0f})"
    )
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
