"""Evaluate a policy on held-out episodes: `python -m trainer.evaluate --policy prospector`, or
a PPO checkpoint's policy: `--checkpoint runs/<id>/checkpoints/ckpt_<N>.pt` (sampled from its
distribution by default, `--eval-mode argmax` for its most probable actions).

Seed rule: every episode seed is a 64-bit integer. Training episodes use seeds below 2**63
(derived from the run's seed and the env index); evaluation episodes use seeds with the top
bit set, so the two ranges can never overlap whatever seeds either side is given.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from trainer.env import (
    ACTION_FAMILIES,
    EPISODE_STATS,
    N_ACTIONS,
    GreedyPolicy,
    ProspectorEnv,
    ProspectorPolicy,
    RandomValidPolicy,
    RewardSpec,
)
from trainer.env.rules import REWARD_PROFILES
from trainer.env.rng import derive_seed
from trainer.env.rules import TIME_MAX
from trainer.loss_trace import LossTracer

EVAL_SEED_BIT = np.uint64(1 << 63)
_EVAL_SEED_DOMAIN = 0xE7A1
MAX_EVAL_BATCH = 256

ActFn = Callable[[ProspectorEnv], np.ndarray]


class EpisodeObserver(Protocol):
    """Watches run_episodes play (e.g. trainer.replay_record's ReplayObserver)."""

    def start(self, env: ProspectorEnv, seeds: np.ndarray) -> None: ...

    def step(self, env: ProspectorEnv, actions: np.ndarray, active: np.ndarray) -> None: ...

    def finish(self, env: ProspectorEnv) -> None: ...


def evaluation_seeds(seed: int, episodes: int) -> np.ndarray:
    """The episode seeds of an evaluation: disjoint from every training seed (top bit set)."""
    return np.array(
        [EVAL_SEED_BIT | derive_seed(seed, k, _EVAL_SEED_DOMAIN) for k in range(episodes)], dtype=np.uint64
    )


@dataclass
class EvalResult:
    """Per-episode statistics (columns as EPISODE_STATS) and the actions taken, by index."""

    stats: np.ndarray
    action_counts: np.ndarray
    seconds: float

    def column(self, name: str) -> np.ndarray:
        return self.stats[:, EPISODE_STATS.index(name)]

    def summary(self) -> dict[str, tuple[float, float]]:
        """Mean and 95% confidence half-width of the headline metrics."""
        rows = {
            "return": self.column("return"),
            "net_profit": self.column("net_profit"),
            "survival_rate": self.column("survival"),
            "destroyed_rate": self.column("destroyed"),
            "stranded_rate": self.column("stranded"),
            "cash_out_rate": self.column("cash_out"),
            "length_steps": self.column("length"),
            "length_ticks": self.column("ticks"),
        }
        return {name: mean_ci95(values) for name, values in rows.items()}

    def action_family_shares(self) -> dict[str, float]:
        total = max(1, int(self.action_counts.sum()))
        return {name: float(self.action_counts[lo : hi + 1].sum()) / total for name, lo, hi in ACTION_FAMILIES}


def mean_ci95(values: np.ndarray) -> tuple[float, float]:
    """The mean and the normal-approximation 95% half-width of its confidence interval."""
    n = len(values)
    if n == 0:
        return math.nan, math.nan
    half = 1.96 * float(np.std(values, ddof=1)) / math.sqrt(n) if n > 1 else math.nan
    return float(np.mean(values)), half


BASELINES = ("random", "greedy", "prospector")


def run_episodes(
    make_act: Callable[[int], ActFn],
    episodes: int,
    seed: int,
    time_max: int = TIME_MAX,
    reward: RewardSpec | None = None,
    observation: str = "spec",
    observer: EpisodeObserver | None = None,
) -> EvalResult:
    """Play `episodes` evaluation episodes, in batches, under `reward` (default: the profit
    profile) with the `observation` a policy expects; `make_act(n)` builds the policy for a
    batch of n envs and returns its act function. An `observer` sees each batch start, each
    step and the batch's end."""
    start = time.perf_counter()
    seeds = evaluation_seeds(seed, episodes)
    stats = np.zeros((episodes, len(EPISODE_STATS)))
    action_counts = np.zeros(N_ACTIONS, dtype=np.int64)
    for lo in range(0, episodes, MAX_EVAL_BATCH):
        batch = seeds[lo : lo + MAX_EVAL_BATCH]
        env = ProspectorEnv(
            num_envs=len(batch), time_max=time_max, autoreset=False, reward=reward, observation=observation
        )
        env.start_episodes(batch)
        if observer is not None:
            observer.start(env, batch)
        act = make_act(len(batch))
        done = env.state.done
        while not done.all():
            actions = act(env)
            active = ~done
            action_counts += np.bincount(actions[active], minlength=N_ACTIONS)
            env.step(actions)
            if observer is not None:
                observer.step(env, actions, active)
        if observer is not None:
            observer.finish(env)
        stats[lo : lo + len(batch)] = env.episode_stats
    return EvalResult(stats, action_counts, time.perf_counter() - start)


def baseline_act(policy: str, seed: int) -> Callable[[int], ActFn]:
    """The act-function factory of a scripted baseline (one of BASELINES)."""
    if policy == "greedy":
        return lambda n: GreedyPolicy(n).act
    if policy == "prospector":
        return lambda n: ProspectorPolicy(n).act
    if policy == "random":

        def make(n: int) -> ActFn:
            random_policy = RandomValidPolicy(n, seed)
            return lambda env: random_policy.act(env.action_mask)

        return make
    raise ValueError(f"unknown policy {policy!r}")


def format_result(name: str, result: EvalResult) -> str:
    """The evaluation table of one policy, and its action-family histogram."""
    episodes = len(result.stats)
    lines = [f"policy: {name}  episodes: {episodes}  ({episodes / result.seconds:.1f} episodes/s)"]
    lines.append(f"  {'metric':<16}{'mean':>12}{'± 95% CI':>12}")
    for metric, (mean, half) in result.summary().items():
        lines.append(f"  {metric:<16}{mean:>12.3f}{half:>12.3f}")
    shares = ", ".join(f"{k} {v:.1%}" for k, v in result.action_family_shares().items() if v >= 0.0005)
    lines.append(f"  actions: {shares}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m trainer.evaluate",
        description="Play held-out evaluation episodes and print mean and 95% CI of the results.",
    )
    parser.add_argument(
        "--policy",
        choices=BASELINES,
        action="append",
        help="scripted baseline to evaluate (repeatable; default: all three, unless --checkpoint is given)",
    )
    parser.add_argument(
        "--checkpoint",
        type=Path,
        action="append",
        default=[],
        help="PPO checkpoint (runs/<id>/checkpoints/ckpt_<N>.pt) whose policy to evaluate (repeatable)",
    )
    parser.add_argument(
        "--eval-mode",
        choices=["sample", "argmax"],
        default="sample",
        help="how a checkpoint's policy acts: sampled (default) or its most probable valid action",
    )
    parser.add_argument(
        "--temperature",
        type=float,
        help="sampled actions are drawn from softmax(logits / temperature) (default: the checkpoint's "
        "eval_temperature, 1 when it has none)",
    )
    parser.add_argument(
        "--reward",
        choices=REWARD_PROFILES,
        default="profit",
        help="reward profile whose return is reported (default profit; net profit does not depend on it)",
    )
    parser.add_argument("--episodes", type=int, default=200, help="episodes per policy (default 200)")
    parser.add_argument("--seed", type=int, default=12345, help="evaluation seed (default 12345)")
    parser.add_argument("--time-max", type=int, default=TIME_MAX, help="episode budget in ticks")
    parser.add_argument(
        "--losses",
        type=int,
        default=0,
        metavar="N",
        help="also print the last steps before each of the first N lost ships (destroyed or stranded) per policy",
    )
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error("argument --episodes: must be at least 1")
    if args.time_max < 1:
        parser.error("argument --time-max: must be at least 1")
    if args.losses < 0:
        parser.error("argument --losses: must be at least 0")
    if args.temperature is not None and not args.temperature > 0:
        parser.error("argument --temperature: must be above 0")
    if not 0 <= args.seed < 2**63:
        parser.error("argument --seed: must be in [0, 2**63)")
    reward = RewardSpec(profile=args.reward)
    print(f"reward profile: {reward.profile}  eval seed: {args.seed}  time max: {args.time_max}", flush=True)

    def evaluate(name: str, make_act: Callable[[int], ActFn], observation: str = "spec") -> None:
        tracer = LossTracer() if args.losses else None
        result = run_episodes(make_act, args.episodes, args.seed, args.time_max, reward, observation, tracer)
        print(format_result(name, result), flush=True)
        if tracer is not None:
            _print_losses(tracer, args.losses)

    for policy in args.policy or ([] if args.checkpoint else list(BASELINES)):
        evaluate(policy, baseline_act(policy, args.seed))
    for path in args.checkpoint:
        make_act, observation, temperature = checkpoint_act(path, args.eval_mode, args.seed, args.temperature)
        how = "argmax" if args.eval_mode == "argmax" else f"sample, temperature {temperature:g}"
        evaluate(f"{path} ({how})", make_act, observation)
    return 0


def _print_losses(tracer: LossTracer, limit: int) -> None:
    if not tracer.lost:
        return
    shown = tracer.lost[:limit]
    print(
        f"  lost ships: {len(tracer.lost)}; the last {tracer.steps} steps of {len(shown)} "
        "(action, then hull, fuel, heat, alert and hops to the station after it):"
    )
    for ship in shown:
        print(f"    {ship.describe()}")


def checkpoint_act(
    path: Path, mode: str = "sample", seed: int = 0, temperature: float | None = None
) -> tuple[Callable[[int], ActFn], str, float]:
    """The act-function factory of a PPO checkpoint's policy (sampled or argmax), the
    observation it was trained on and the sampling temperature (by default the checkpoint's
    eval_temperature)."""
    from trainer.checkpoint import load_checkpoint
    from trainer.policy import load_policy, policy_act  # torch: only when a checkpoint is evaluated

    checkpoint = load_checkpoint(path)
    config = checkpoint["config"]
    if temperature is None:
        temperature = float(config.get("eval_temperature", 1.0))
    act = policy_act(load_policy(checkpoint), mode, seed, temperature=temperature)
    return (lambda n: act), config.get("env_observation", "spec"), temperature


if __name__ == "__main__":
    sys.exit(main())
