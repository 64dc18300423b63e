"""PPO backend: throughput against the policy-only bound, and (opt-in) learning against baselines.

Throughput: for each hidden-size setting, thread setting (batch_threads x torch_threads) and
precision of the policy's layers (float32, bfloat16), end-to-end env steps/s of a PPO run
through the trainer CLI (env, policy, updates, windows, artifacts), and the *bound*: the same
backend's rollout forward passes and update epochs on the same batch sizes, parts and threads
with the env replaced by a frozen batch (no env stepping). Efficiency = end to end / bound;
"x 1 thread" = end to end / the first setting's (1x1) float32 end to end at the same size.
Then, at the first size, the same settings with the other core kept busy by a spinning
process (how each degrades when the second core is taken).
  BENCH_PPO_STEPS (default 1,000,000 env steps per run), BENCH_PPO_SIZES (default
  "64,64 128,128 256,256"), BENCH_PPO_THREADS (default "1x1 2x1 1x2"), BENCH_PPO_PRECISIONS
  (default "float32 bfloat16"; the busy-core rows are float32), BENCH_PPO_BUSY_STEPS (default
  100,000, bounds over one rollout; 0 = skip the busy-core rows).

Learning (named on the command line, `python -m bench learning`, or BENCH_PPO_LEARNING=1): the default config trained for BENCH_PPO_LEARNING_STEPS
(default 10,000,000) env steps at each seed of BENCH_PPO_LEARNING_SEEDS (default "1"; "1,2,3"
for the full table), its policy (sampled at the default eval temperature) evaluated on 200
held-out episodes every 1M steps; the table shows it at 2M/5M/10M (wall time since the run's start, evaluations included) beside the
random, greedy and tuned prospector players on the same episodes, then the wall time until
PPO's eval net profit first exceeds each of them, and writes bench-out/ppo_learning.png.
BENCH_PPO_LEARNING_FLAGS adds trainer flags (ablations).
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trainer.cli import main as trainer_main
from trainer.config import TrainConfig
from trainer.env import ProspectorEnv
from trainer.evaluate import BASELINES, baseline_act, mean_ci95, run_episodes
from trainer.parts import PartRunner, batch_parts
from trainer.ppo import PPOBackend
from trainer.vector import PartAct

OUT = Path("bench-out")
EVAL_EPISODES = 200
EVAL_SEED = 12345


class FrozenBatch:
    """A stand-in for the vector env: one real batch of observations and masks, never stepped;
    its parts are acted on by the same threads as the native env's."""

    def __init__(self, config: TrainConfig) -> None:
        env = ProspectorEnv(num_envs=config.num_envs, seed=0, observation=config.env_observation)
        env.reset()
        self.observations = env.observations.copy()
        self.action_mask = env.action_mask.copy()
        self.final_observations = self.observations
        self.rewards = np.zeros(config.num_envs, np.float32)
        self.terminals = np.zeros(config.num_envs, bool)
        self.truncations = np.zeros(config.num_envs, bool)
        self.step_ticks = np.ones(config.num_envs, np.int64)
        self.rows = batch_parts(config.num_envs, config.batch_threads)
        self.runner = PartRunner(config.batch_threads)

    def act_and_step(self, act: PartAct) -> None:
        self.runner.map(lambda k: act(self.observations[self.rows[k]], self.action_mask[self.rows[k]], k))


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (glibc's malloc.h)


def keep_freed_memory() -> bool:
    """Tell glibc's malloc to serve blocks under 32 MiB (its largest setting) from the heap and
    to keep up to 256 MiB of it free for reuse; returns whether it could (glibc only).

    Without it the frozen-batch bound measured page faults as much as the policy: a minibatch's
    temporaries (a 2,048 x 284 float32 tensor is 2.3 MB) went back to the kernel when freed and
    were faulted in again, page by page, ~100k faults a rollout; the bfloat16 bound read 26k
    env steps/s instead of 42k. The trainer, its heap holding the env's arrays too, faulted ~4x
    less and ran as fast with the setting as without."""
    if platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(None)  # the C library this process runs on
    return libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20) == 1 and libc.mallopt(_M_TRIM_THRESHOLD, 256 << 20) == 1


def policy_bound_sps(config: TrainConfig, rollouts: int = 3) -> float:
    """Env steps/s of the PPO backend alone (act + after_step, updates included) on a frozen
    batch, at the config's batch and torch threads."""
    torch.set_num_threads(config.torch_threads)
    batch = FrozenBatch(config)
    backend = PPOBackend(config)

    def rollout() -> None:
        for _ in range(config.ppo_rollout_steps):
            batch.act_and_step(backend.act)
            backend.after_step(batch)

    rollout()  # warm-up
    start = time.perf_counter()
    for _ in range(rollouts):
        rollout()
    sps = rollouts * config.ppo_rollout_steps * config.num_envs / (time.perf_counter() - start)
    batch.runner.close()
    backend.runner.close()
    return sps


@contextlib.contextmanager
def busy_core() -> Iterator[None]:
    """Another process spinning on one core for the duration."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait()


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


def run_sps(root: Path, run_id: str, *flags: str) -> float:
    """Env steps/s of a PPO trainer run with `flags`, over the whole run (its last window's total)."""
    last = windows(train_run(root, run_id, *flags))[-1]
    return last["env_steps_total"] / last["elapsed_s"]


def _throughput_row(
    root: Path, run_id: str, size: str, threads: tuple[int, int], precision: str, steps: int, rollouts: int
) -> tuple[float, float]:
    """(bound, end-to-end) env steps/s of hidden sizes `size` at (batch, torch) `threads` and
    `precision`; the bound (over `rollouts` rollouts) is measured before and after the run and
    averaged (the box's load drifts)."""
    hidden = [int(w) for w in size.split(",")]
    batch_threads, torch_threads = threads
    config = TrainConfig(
        trainer_backend="puffer_ppo", total_env_steps=steps, ppo_hidden_sizes=hidden,
        batch_threads=batch_threads, torch_threads=torch_threads, ppo_precision=precision,
    )  # fmt: skip
    bound_before = policy_bound_sps(config, rollouts)
    end_to_end = run_sps(
        root, run_id, "--total-env-steps", str(steps), "--window-env-steps", str(min(steps, 100_000)),
        "--ppo-hidden-sizes", *size.split(","), "--batch-threads", str(batch_threads),
        "--torch-threads", str(torch_threads), "--ppo-precision", precision,
    )  # fmt: skip
    return (bound_before + policy_bound_sps(config, rollouts)) / 2, end_to_end


def bench_ppo_throughput() -> None:
    keep_freed_memory()  # for the bounds, and the runs alike (they run in this process)
    steps = int(os.environ.get("BENCH_PPO_STEPS", 1_000_000))
    busy_steps = int(os.environ.get("BENCH_PPO_BUSY_STEPS", 100_000))
    sizes = os.environ.get("BENCH_PPO_SIZES", "64,64 128,128 256,256").split()
    settings = [
        tuple(int(n) for n in text.split("x")) for text in os.environ.get("BENCH_PPO_THREADS", "1x1 2x1 1x2").split()
    ]
    precisions = os.environ.get("BENCH_PPO_PRECISIONS", "float32 bfloat16").split()
    default = TrainConfig()
    print(
        f"ppo throughput: N={default.num_envs}, rollout {default.ppo_rollout_steps}, "
        f"{default.ppo_update_epochs} epochs x {default.ppo_num_minibatches} minibatches, "
        f"{steps:,} env steps per run; threads = batch_threads x torch_threads "
        f"(default {default.batch_threads}x{default.torch_threads}, {default.ppo_precision}); "
        "target on two cores: x 1 thread >= 1.5 at efficiency >= 0.85"
    )
    print(f"  {'hidden':<10}{'threads':>8}{'precision':>10}{'bound sps':>12}{'end-to-end sps':>16}", end="")
    print(f"{'efficiency':>12}{'x 1 thread':>12}")
    rows = [(size, t, p, steps, False) for size in sizes for p in precisions for t in settings]
    if busy_steps:
        rows += [(sizes[0], t, "float32", busy_steps, True) for t in settings]
    one_thread: dict[tuple[str, bool], float] = {}
    with tempfile.TemporaryDirectory() as root:
        for k, (size, threads, precision, run_steps, busy) in enumerate(rows):
            if busy and not rows[k - 1][4]:
                print(f"  with the other core busy (a spinning process), {busy_steps:,} env steps per run:")
            with busy_core() if busy else contextlib.nullcontext():
                bound, end_to_end = _throughput_row(
                    Path(root), f"tp{k}", size, threads, precision, run_steps, 1 if busy else 3
                )
            one_thread.setdefault((size, busy), end_to_end)  # each size's rows start with its first setting
            label = f"{threads[0]}x{threads[1]}"
            print(
                f"  {size:<10}{label:>8}{precision:>10}{bound:>12,.0f}{end_to_end:>16,.0f}{end_to_end / bound:>12.2f}"
                f"{end_to_end / one_thread[size, busy]:>12.2f}"
            )


def _first_crossing(evaluated: list[dict[str, Any]], bar: float) -> dict[str, Any] | None:
    """The first evaluated window whose eval net profit exceeds `bar`."""
    return next((w for w in evaluated if w["eval_net_profit_mean"] > bar), None)


def bench_ppo_learning(requested: bool = False) -> None:
    """PPO's learning under the default config against the three scripted players (opt-in:
    when `requested`, i.e. named on `python -m bench`'s command line, or BENCH_PPO_LEARNING=1)."""
    if not requested and os.environ.get("BENCH_PPO_LEARNING") != "1":
        print(
            "ppo learning: skipped (run it with `make bench BENCH=learning` or BENCH_PPO_LEARNING=1; "
            "BENCH_PPO_LEARNING_STEPS, BENCH_PPO_LEARNING_SEEDS, BENCH_PPO_LEARNING_FLAGS to change it)"
        )
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = int(os.environ.get("BENCH_PPO_LEARNING_STEPS", 10_000_000))
    seeds = [int(s) for s in os.environ.get("BENCH_PPO_LEARNING_SEEDS", "1").split(",")]
    extra_flags = os.environ.get("BENCH_PPO_LEARNING_FLAGS", "").split()
    report_at = [m for m in (2_000_000, 5_000_000, 10_000_000) if m <= steps] or [steps]
    scripted = {p: run_episodes(baseline_act(p, EVAL_SEED), EVAL_EPISODES, EVAL_SEED) for p in BASELINES}
    OUT.mkdir(exist_ok=True)
    print(
        f"ppo learning: default config{' + ' + ' '.join(extra_flags) if extra_flags else ''}, {steps:,} env steps, "
        f"seeds {seeds}; {EVAL_EPISODES} held-out episodes (eval seed {EVAL_SEED}), policy sampled at "
        f"temperature {TrainConfig().eval_temperature:g} unless the flags say otherwise"
    )
    print(f"  {'policy':<22}{'wall':>9}{'net profit':>12}{'± 95%':>8}{'survival':>10}{'ticks':>8}")
    for name, result in scripted.items():
        (profit, half), survival = mean_ci95(result.column("net_profit")), result.column("survival").mean()
        print(f"  {name:<22}{'':>9}{profit:>12,.0f}{half:>8,.0f}{survival:>10.3f}{result.column('ticks').mean():>8.0f}")
    fig, ax = plt.subplots(figsize=(8, 4.5))
    crossings = []
    with tempfile.TemporaryDirectory() as root:
        for seed in seeds:
            run = train_run(
                Path(root), f"learn-seed{seed}", "--total-env-steps", str(steps), "--window-env-steps", "100000",
                "--checkpoint-every-windows", "10", "--eval-episodes", str(EVAL_EPISODES),
                "--eval-seed", str(EVAL_SEED), "--seed", str(seed), *extra_flags,
            )
            records = windows(run)
            started = _parse_time(records[0]["time"]) - records[0]["elapsed_s"]
            evaluated = [w for w in records if "eval_net_profit_mean" in w]
            for mark in report_at:
                w = next(w for w in evaluated if w["env_steps_total"] >= mark)
                wall = (_parse_time(w["time"]) - started) / 60
                name = f"ppo seed {seed} @ {w['env_steps_total'] / 1e6:g}M"
                print(
                    f"  {name:<22}{wall:>7.1f} m{w['eval_net_profit_mean']:>12,.0f}{'':>8}"
                    f"{w['eval_survival_rate']:>10.3f}{w['eval_ticks_mean']:>8.0f}"
                )
            for p, result in scripted.items():
                crossed = _first_crossing(evaluated, float(result.column("net_profit").mean()))
                when = (
                    f"{(_parse_time(crossed['time']) - started) / 60:.1f} min ({crossed['env_steps_total'] / 1e6:g}M steps)"
                    if crossed
                    else "not within the run"
                )
                crossings.append(f"  seed {seed}: eval net profit first above {p}: {when}")
            ax.plot([w["env_steps_total"] for w in evaluated], [w["eval_net_profit_mean"] for w in evaluated],
                    marker="o", label=f"PPO seed {seed}")
    print("\n".join(crossings))
    for (p, result), style in zip(scripted.items(), (":", "--", "-.")):
        ax.axhline(result.column("net_profit").mean(), linestyle=style, color="black", label=p)
    ax.set_xlabel("env steps")
    ax.set_ylabel(f"eval net profit (mean of {EVAL_EPISODES} held-out episodes)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(OUT / "ppo_learning.png", dpi=120)
    print(f"  learning curve: {OUT / 'ppo_learning.png'}")


def _parse_time(stamp: str) -> float:
    """Seconds since the epoch of a window record's `time` (ISO 8601, UTC, 'Z')."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
