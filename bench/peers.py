"""PPO beside a peer: Stable-Baselines3-contrib's MaskablePPO on the same env, network and batch.

What a user would pick instead: `MaskablePPO` on `ProspectorGymEnv` behind `ActionMasker` in a
`DummyVecEnv` of 256 envs x 128 steps (32,768 transitions), 4 minibatches, 4 epochs, the
260 -> 128 -> 128 tanh trunk shared by the actor and critic heads (as ours), one torch thread.
It learns for BENCH_PEER_STEPS env steps (default 32,768: one rollout and its update); ours
trains BENCH_PEER_OURS_STEPS (default 262,144) through the trainer CLI with the same settings
(spec observation, 4 minibatches), at one batch thread and at two, then at two with its layers
in bfloat16 (`--ppo-precision bfloat16`: not the same settings, labelled so). sb3-contrib is
installed by `make bench` (--no-deps: it must not replace the pinned torch).

Then each at its own defaults, what a user gets out of the box: `MaskablePPO("MlpPolicy", env)`
on one env (SB3's defaults: 2,048-step rollouts, minibatches of 64, 10 epochs, separate 64-64
tanh actor and critic) for BENCH_PEER_DEFAULT_STEPS (default 4,096: two rollouts and their
updates), and `python -m trainer` with no tuning flags for BENCH_PEER_OURS_STEPS (then with two
batch threads, then also in bfloat16).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bench.ppo import run_sps
from trainer.config import TrainConfig
from trainer.env import ProspectorGymEnv

HIDDEN = 128
NUM_ENVS, ROLLOUT_STEPS, MINIBATCHES, EPOCHS = 256, 128, 4, 4
BFLOAT16 = ("--ppo-precision", "bfloat16")


def masked_envs(count: int) -> Any:
    """`count` ProspectorGymEnvs behind sb3-contrib's ActionMasker in a DummyVecEnv."""
    from sb3_contrib.common.wrappers import ActionMasker
    from stable_baselines3.common.vec_env import DummyVecEnv

    time_max = TrainConfig().env_time_max
    return DummyVecEnv([lambda: ActionMasker(ProspectorGymEnv(time_max=time_max), lambda e: e.action_mask)] * count)


def learn_sps(model: Any, steps: int) -> float:
    """Env steps/s of an SB3 model's learn() for `steps` env steps (rollouts and updates)."""
    start = time.perf_counter()
    model.learn(total_timesteps=steps)
    elapsed = time.perf_counter() - start
    model.get_env().close()
    return model.num_timesteps / elapsed


def sb3_sps(steps: int) -> float:
    """Env steps/s of MaskablePPO at our settings (batch, network, hyperparameters)."""
    from sb3_contrib import MaskablePPO
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

    class Trunk(BaseFeaturesExtractor):
        """Our policy's trunk: obs -> 128 -> 128, tanh (actor and critic heads on top)."""

        def __init__(self, observation_space, features_dim: int = HIDDEN) -> None:
            super().__init__(observation_space, features_dim)
            width = observation_space.shape[0]
            self.net = nn.Sequential(nn.Linear(width, HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, HIDDEN), nn.Tanh())

        def forward(self, observations: torch.Tensor) -> torch.Tensor:
            return self.net(observations)

    defaults = TrainConfig()
    model = MaskablePPO(
        "MlpPolicy",
        masked_envs(NUM_ENVS),
        n_steps=ROLLOUT_STEPS,
        batch_size=NUM_ENVS * ROLLOUT_STEPS // MINIBATCHES,
        n_epochs=EPOCHS,
        learning_rate=defaults.ppo_learning_rate,
        gamma=defaults.ppo_gamma,
        gae_lambda=defaults.ppo_gae_lambda,
        clip_range=defaults.ppo_clip_coef,
        ent_coef=defaults.ppo_ent_coef,
        vf_coef=defaults.ppo_vf_coef,
        max_grad_norm=defaults.ppo_max_grad_norm,
        policy_kwargs={
            "features_extractor_class": Trunk,
            "share_features_extractor": True,
            "net_arch": {"pi": [], "vf": []},
        },
        seed=0,
        device="cpu",
        verbose=0,
    )
    return learn_sps(model, steps)


def sb3_default_sps(steps: int) -> tuple[float, str]:
    """Env steps/s of MaskablePPO as a user first runs it (SB3's defaults, one env), and those settings."""
    from sb3_contrib import MaskablePPO

    model = MaskablePPO("MlpPolicy", masked_envs(1), seed=0, device="cpu", verbose=0)
    arch = model.policy.net_arch
    settings = (
        f"{model.n_steps:,}-step rollouts of {model.n_envs} env, minibatches of {model.batch_size}, "
        f"{model.n_epochs} epochs, actor {arch['pi']} and critic {arch['vf']} tanh"
    )
    return learn_sps(model, steps), settings


def print_ratios(sb3_label: str, sb3: float, ours: dict[str, float]) -> None:
    """A table: SB3's env steps/s, then each of ours with its ratio to SB3's."""
    print(f"  {'trainer':<48}{'env steps/s':>12}{'ours / SB3':>12}")
    print(f"  {sb3_label:<48}{sb3:>12,.0f}{'':>12}")
    for label, sps in ours.items():
        print(f"  {label:<48}{sps:>12,.0f}{sps / sb3:>11.1f}x")


def bench_peers() -> None:
    peer_steps = int(os.environ.get("BENCH_PEER_STEPS", NUM_ENVS * ROLLOUT_STEPS))
    default_steps = int(os.environ.get("BENCH_PEER_DEFAULT_STEPS", 4096))
    our_steps = int(os.environ.get("BENCH_PEER_OURS_STEPS", 8 * NUM_ENVS * ROLLOUT_STEPS))
    torch.set_num_threads(1)
    print(
        f"ppo peers: {NUM_ENVS} envs x {ROLLOUT_STEPS} steps, {MINIBATCHES} minibatches x {EPOCHS} epochs, "
        f"260-{HIDDEN}-{HIDDEN} tanh, 1 torch thread; SB3 {peer_steps:,} env steps, ours {our_steps:,}"
    )
    length = ["--total-env-steps", str(our_steps), "--window-env-steps", str(min(our_steps, 100_000))]
    same_settings = [
        *length, "--env-observation", "spec", "--num-envs", str(NUM_ENVS), "--ppo-rollout-steps", str(ROLLOUT_STEPS),
        "--ppo-num-minibatches", str(MINIBATCHES), "--ppo-update-epochs", str(EPOCHS),
        "--ppo-hidden-sizes", str(HIDDEN), str(HIDDEN), "--torch-threads", "1", "--eval-replays", "0",
        "--no-ppo-normalize-observations",  # SB3's policy takes the observation as it is
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as root:
        ours = {
            f"ours, batch_threads {threads}": run_sps(
                Path(root), f"peer{threads}", *same_settings, "--batch-threads", str(threads)
            )
            for threads in (1, 2)
        }
        ours["ours, batch_threads 2, bfloat16 layers"] = run_sps(
            Path(root), "peer2bf16", *same_settings, "--batch-threads", "2", *BFLOAT16
        )
        print("  same settings (target >= 10x):")
        print_ratios("SB3-contrib MaskablePPO", sb3_sps(peer_steps), ours)
        ours = {
            "ours, defaults": run_sps(Path(root), "default1", *length),
            "ours, defaults + --batch-threads 2": run_sps(Path(root), "default2", *length, "--batch-threads", "2"),
            "ours, defaults + --batch-threads 2, bfloat16": run_sps(
                Path(root), "default2bf16", *length, "--batch-threads", "2", *BFLOAT16
            ),
        }
    sb3, sb3_settings = sb3_default_sps(default_steps)
    config = TrainConfig()
    print(
        f"  each at its own defaults (what a user first runs): SB3 {default_steps:,} env steps, {sb3_settings}; "
        f"ours {config.num_envs} envs x {config.ppo_rollout_steps} steps, {config.ppo_num_minibatches} minibatches "
        f"x {config.ppo_update_epochs} epochs, hidden {config.ppo_hidden_sizes}, {config.env_observation} observation"
        f"{' (normalised)' if config.ppo_normalize_observations else ''}"
    )
    print_ratios('SB3-contrib MaskablePPO("MlpPolicy", env)', sb3, ours)
