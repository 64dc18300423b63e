"""Random backend end to end (env + windowing + artifact writes) against bare env stepping:
the same env (the trainer's default observation and reward) driven by the same random policy.

Rates are given per wall-clock second (what the issue asks) and per CPU second of this process
(steadier on a shared machine). Environment variables shorten or reshape the run:
BENCH_PIPELINE_STEPS (default 10M env steps), BENCH_PIPELINE_WINDOW (default 100k),
BENCH_PIPELINE_ENVS (default: TrainConfig's num_envs).
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
from trainer.env import RandomValidPolicy
from trainer.vector import training_env


def env_only_sps(num_envs: int, env_steps: int, seed: int = 0) -> tuple[float, float]:
    """(wall, CPU) env steps/s of the env the trainer steps (its default observation and reward)
    driven by RandomValidPolicy, nothing else."""
    env = training_env(TrainConfig(num_envs=num_envs, seed=seed))
    policy = RandomValidPolicy(num_envs=num_envs, seed=seed)
    batches = env_steps // num_envs
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(batches):
        env.step(policy.act(env.action_mask))
    steps = batches * num_envs
    return steps / (time.perf_counter() - wall), steps / (time.process_time() - cpu)


def pipeline_sps(num_envs: int, env_steps: int, window_env_steps: int) -> tuple[float, float, int]:
    """(wall, CPU) env steps/s of a whole random-backend run and the size of its run directory.

    The wall rate comes from the last window's elapsed_s (the training loop, artifact writes
    included); the CPU rate covers the whole command, setup included."""
    with tempfile.TemporaryDirectory() as root:
        argv = [
            "--run-root",
            root,
            "--run-id",
            "bench",
            "--trainer-backend",
            "random",
            "--total-env-steps",
            str(env_steps),
            "--window-env-steps",
            str(window_env_steps),
            "--num-envs",
            str(num_envs),
            "--wandb-mode",
            "disabled",
        ]
        cpu = time.process_time()
        with contextlib.redirect_stdout(io.StringIO()):
            code = trainer_main(argv)
        cpu = time.process_time() - cpu
        if code != 0:
            raise RuntimeError(f"benchmark run failed with exit code {code}")
        run_dir = Path(root) / "bench"
        last = json.loads(run_dir.joinpath("metrics", "windows.jsonl").read_bytes().splitlines()[-1])
        size = sum(p.stat().st_size for p in run_dir.rglob("*") if p.is_file())
    return last["env_steps_total"] / last["elapsed_s"], env_steps / cpu, size


def bench_pipeline() -> None:
    num_envs = int(os.environ.get("BENCH_PIPELINE_ENVS", TrainConfig.model_fields["num_envs"].default))
    env_steps = int(os.environ.get("BENCH_PIPELINE_STEPS", 10_000_000))
    window = min(env_steps, int(os.environ.get("BENCH_PIPELINE_WINDOW", 100_000)))
    bare_steps = min(env_steps, 2_000_000)  # a rate: no need for the whole run's length
    env_only_sps(num_envs, 10 * num_envs)  # compile / warm up
    before = env_only_sps(num_envs, bare_steps)
    wall, cpu, run_bytes = pipeline_sps(num_envs, env_steps, window)
    after = env_only_sps(num_envs, bare_steps)
    bare_wall, bare_cpu = (before[0] + after[0]) / 2, (before[1] + after[1]) / 2
    print(f"pipeline: random backend, N={num_envs}, {env_steps:,} env steps, window {window:,}")
    print(
        f"  env only (the trainer's env, {TrainConfig().env_observation} observation, + RandomValidPolicy, "
        f"{bare_steps:,} steps before and after): "
        f"{bare_wall:,.0f} env steps/s wall, {bare_cpu:,.0f} per CPU s"
    )
    print(f"  end to end (env + windows + artifacts): {wall:,.0f} env steps/s wall, {cpu:,.0f} per CPU s")
    print(
        f"  ratio (target >= 0.8): {wall / bare_wall:.3f} wall, {cpu / bare_cpu:.3f} CPU; "
        f"run directory {run_bytes / 2**20:,.1f} MiB"
    )
