"""PPO backend: throughput against the policy-only bound, and (opt-in) learning against baselines.

Throughput: for each hidden-size setting, end-to-end env steps/s of a PPO run through the
trainer CLI (env, policy, updates, windows, artifacts), and the *bound*: the same backend's
rollout forward passes and update epochs on the same batch sizes with the env replaced by a
frozen batch (no env stepping). Efficiency = end to end / bound.
  BENCH_PPO_STEPS (default 1,000,000 env steps per run), BENCH_PPO_SIZES (default
  "64,64 128,128 256,256").

Learning (BENCH_PPO_LEARNING=1): the default config at fixed seeds for each step count in
BENCH_PPO_LEARNING_STEPS (default "2000000,10000000"), evaluated on 200 held-out episodes at
every checkpoint; the final evaluation beside the random and greedy baselines on the same
episodes, the wall time, and a PNG learning curve in bench-out/ppo_learning.png.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trainer.cli import main as trainer_main
from trainer.config import TrainConfig
from trainer.env import ProspectorEnv
from trainer.evaluate import baseline_act, run_episodes
from trainer.ppo import PPOBackend

OUT = Path("bench-out")
EVAL_EPISODES = 200
EVAL_SEED = 12345


class FrozenBatch:
    """A stand-in for the vector env: one real batch of observations and masks, never stepped."""

    def __init__(self, num_envs: int) -> None:
        env = ProspectorEnv(num_envs=num_envs, seed=0)
        env.reset()
        self.observations = env.observations.copy()
        self.action_mask = env.action_mask.copy()
        self.final_observations = self.observations
        self.rewards = np.zeros(num_envs, np.float32)
        self.terminals = np.zeros(num_envs, bool)
        self.truncations = np.zeros(num_envs, bool)


def policy_bound_sps(config: TrainConfig, rollouts: int = 3) -> float:
    """Env steps/s of the PPO backend alone (act + after_step, updates included) on a frozen batch."""
    torch.set_num_threads(config.torch_threads)
    backend = PPOBackend(config, FrozenBatch(config.num_envs))
    batch = FrozenBatch(config.num_envs)

    def rollout() -> None:
        for _ in range(config.ppo_rollout_steps):
            backend.act(batch.observations, batch.action_mask)
            backend.after_step(batch)

    rollout()  # warm-up
    start = time.perf_counter()
    for _ in range(rollouts):
        rollout()
    return rollouts * config.ppo_rollout_steps * config.num_envs / (time.perf_counter() - start)


def train_run(root: Path, run_id: str, *flags: str) -> Path:
    """Run `python -m trainer` in-process with PPO and the given flags; return the run dir."""
    argv = ["--run-root", str(root), "--run-id", run_id, "--trainer-backend", "puffer_ppo", "--wandb-mode", "disabled"]
    with contextlib.redirect_stdout(io.StringIO()):
        code = trainer_main([*argv, "--no-log-to-run-dir", *flags])
    if code != 0:
        raise RuntimeError(f"benchmark run {run_id} failed with exit code {code}")
    return root / run_id


def windows(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "metrics" / "windows.jsonl").read_bytes().splitlines()]


def bench_ppo_throughput() -> None:
    steps = int(os.environ.get("BENCH_PPO_STEPS", 1_000_000))
    sizes = os.environ.get("BENCH_PPO_SIZES", "64,64 128,128 256,256").split()
    default = TrainConfig()
    print(
        f"ppo throughput: N={default.num_envs}, rollout {default.ppo_rollout_steps}, "
        f"{default.ppo_update_epochs} epochs x {default.ppo_num_minibatches} minibatches, "
        f"{default.torch_threads} torch thread(s), {steps:,} env steps per run"
    )
    print(f"  {'hidden':<12}{'bound sps':>12}{'end-to-end sps':>16}{'efficiency':>12}")
    with tempfile.TemporaryDirectory() as root:
        for k, size in enumerate(sizes):
            hidden = [int(w) for w in size.split(",")]
            config = TrainConfig(trainer_backend="puffer_ppo", total_env_steps=steps, ppo_hidden_sizes=hidden)
            bound_before = policy_bound_sps(config)
            run = train_run(
                Path(root), f"tp{k}", "--total-env-steps", str(steps), "--window-env-steps",
                str(min(steps, 100_000)), "--ppo-hidden-sizes", *size.split(","),
            )
            bound = (bound_before + policy_bound_sps(config)) / 2
            last = windows(run)[-1]
            end_to_end = last["env_steps_total"] / last["elapsed_s"]
            print(f"  {size:<12}{bound:>12,.0f}{end_to_end:>16,.0f}{end_to_end / bound:>12.2f}")


def bench_ppo_learning() -> None:
    if os.environ.get("BENCH_PPO_LEARNING") != "1":
        print("ppo learning: skipped (set BENCH_PPO_LEARNING=1; BENCH_PPO_LEARNING_STEPS to change its lengths)")
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lengths = [int(s) for s in os.environ.get("BENCH_PPO_LEARNING_STEPS", "2000000,10000000").split(",")]
    baselines = {p: run_episodes(baseline_act(p, EVAL_SEED), EVAL_EPISODES, EVAL_SEED) for p in ("random", "greedy")}
    OUT.mkdir(exist_ok=True)
    rows = [(p, "-", r.column("net_profit").mean(), r.column("survival").mean(), r.column("return").mean(), "-")
            for p, r in baselines.items()]
    fig, ax = plt.subplots(figsize=(7, 4))
    with tempfile.TemporaryDirectory() as root:
        for steps in lengths:
            start = time.perf_counter()
            run = train_run(
                Path(root), f"learn{steps}", "--total-env-steps", str(steps), "--window-env-steps", "100000",
                "--checkpoint-every-windows", str(max(1, steps // 1_000_000)), "--eval-episodes",
                str(EVAL_EPISODES), "--eval-seed", str(EVAL_SEED), "--seed", "1",
            )
            wall = time.perf_counter() - start
            evaluated = [w for w in windows(run) if "eval_net_profit_mean" in w]
            last = evaluated[-1]
            rows.append((f"ppo {steps / 1e6:g}M", f"{wall / 60:.1f} min", last["eval_net_profit_mean"],
                         last["eval_survival_rate"], last["eval_return_mean"], f"{last['eval_length_mean']:.0f}"))
            ax.plot([w["env_steps_total"] for w in evaluated], [w["eval_net_profit_mean"] for w in evaluated],
                    marker="o", label=f"PPO, {steps / 1e6:g}M-step run")
    for p, r in baselines.items():
        ax.axhline(r.column("net_profit").mean(), linestyle="--", color="grey" if p == "random" else "black", label=p)
    ax.set_xlabel("env steps")
    ax.set_ylabel(f"eval net profit (mean of {EVAL_EPISODES} held-out episodes)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(OUT / "ppo_learning.png", dpi=120)
    print(f"ppo learning: default config, seed 1, {EVAL_EPISODES} held-out episodes (eval seed {EVAL_SEED})")
    print(f"  {'policy':<12}{'wall':>10}{'net profit':>12}{'survival':>10}{'return':>10}{'length':>8}")
    for name, wall, profit, survival, ret, length in rows:
        print(f"  {name:<12}{wall:>10}{profit:>12,.1f}{survival:>10.3f}{ret:>10.2f}{length:>8}")
    print(f"  learning curve: {OUT / 'ppo_learning.png'}")
