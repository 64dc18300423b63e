"""Random backend end to end (env + windowing + artifact writes) against bare env stepping.

Environment variables shorten or reshape it: BENCH_PIPELINE_STEPS (default 10M env steps),
BENCH_PIPELINE_WINDOW (default 100k), BENCH_PIPELINE_ENVS (default: TrainConfig's num_envs).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import time
from pathlib import Path

from trainer.cli import main as trainer_main
from trainer.config import TrainConfig
from trainer.env import ProspectorEnv, RandomValidPolicy


def env_only_sps(num_envs: int, env_steps: int, seed: int = 0) -> float:
    """Env steps/s of ProspectorEnv driven by RandomValidPolicy, nothing else."""
    env = ProspectorEnv(num_envs=num_envs, seed=seed)
    policy = RandomValidPolicy(num_envs=num_envs, seed=seed)
    env.reset()
    batches = env_steps // num_envs
    start = time.perf_counter()
    for _ in range(batches):
        env.step(policy.act(env.action_mask))
    return batches * num_envs / (time.perf_counter() - start)


def pipeline_sps(num_envs: int, env_steps: int, window_env_steps: int) -> tuple[float, int]:
    """Env steps/s of a whole random-backend run, from its last window's elapsed_s, and the
    size of the run directory it left."""
    with tempfile.TemporaryDirectory() as root:
        argv = ["--run-root", root, "--run-id", "bench", "--trainer-backend", "random",
                "--total-env-steps", str(env_steps), "--window-env-steps", str(window_env_steps),
                "--num-envs", str(num_envs), "--wandb-mode", "disabled"]
        with contextlib.redirect_stdout(io.StringIO()):
            code = trainer_main(argv)
        if code != 0:
            raise RuntimeError(f"benchmark run failed with exit code {code}")
        run_dir = Path(root) / "bench"
        last = json.loads(run_dir.joinpath("metrics", "windows.jsonl").read_bytes().splitlines()[-1])
        size = sum(p.stat().st_size for p in run_dir.rglob("*") if p.is_file())
    return last["env_steps_total"] / last["elapsed_s"], size


def bench_pipeline() -> None:
    num_envs = int(os.environ.get("BENCH_PIPELINE_ENVS", TrainConfig.model_fields["num_envs"].default))
    env_steps = int(os.environ.get("BENCH_PIPELINE_STEPS", 10_000_000))
    window = min(env_steps, int(os.environ.get("BENCH_PIPELINE_WINDOW", 100_000)))
    bare_steps = min(env_steps, 2_000_000)  # a rate: no need for the whole run's length
    env_only_sps(num_envs, 10 * num_envs)  # compile / warm up
    bare_before = env_only_sps(num_envs, bare_steps)
    pipeline, run_bytes = pipeline_sps(num_envs, env_steps, window)
    bare_after = env_only_sps(num_envs, bare_steps)
    bare = (bare_before + bare_after) / 2
    print(f"pipeline (random backend, N={num_envs}, {env_steps:,} env steps, window {window:,}):")
    print(f"  env only (env + RandomValidPolicy, {bare_steps:,} steps before and after): {bare:,.0f} env steps/s "
          f"(before {bare_before:,.0f}, after {bare_after:,.0f})")
    print(f"  end to end (env + windows + artifacts): {pipeline:,.0f} env steps/s")
    print(f"  ratio: {pipeline / bare:.3f} (target >= 0.8); run directory {run_bytes / 2**20:,.1f} MiB")
