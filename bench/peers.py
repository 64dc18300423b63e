"""PPO beside a peer: Stable-Baselines3-contrib's MaskablePPO on the same env, network and batch.

What a user would pick instead: `MaskablePPO` on `ProspectorGymEnv` behind `ActionMasker` in a
`DummyVecEnv` of 256 envs x 128 steps (32,768 transitions), 4 minibatches, 4 epochs, the
260 -> 128 -> 128 tanh trunk shared by the actor and critic heads (as ours), one torch thread.
It learns for BENCH_PEER_STEPS env steps (default 32,768: one rollout and its update); ours
trains BENCH_PEER_OURS_STEPS (default 262,144) through the trainer CLI with the same settings
(spec observation, 4 minibatches), at one batch thread and at two. sb3-contrib is installed by
`make bench` (--no-deps: it must not replace the pinned torch).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from bench.ppo import train_run, windows
from trainer.config import TrainConfig
from trainer.env import ProspectorGymEnv

HIDDEN = 128
NUM_ENVS, ROLLOUT_STEPS, MINIBATCHES, EPOCHS = 256, 128, 4, 4


def sb3_sps(steps: int) -> float:
    """Env steps/s of MaskablePPO's learn() for `steps` env steps (rollouts and updates)."""
    from sb3_contrib import MaskablePPO
    from sb3_contrib.common.wrappers import ActionMasker
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
    from stable_baselines3.common.vec_env import DummyVecEnv

    class Trunk(BaseFeaturesExtractor):
        """Our policy's trunk: obs -> 128 -> 128, tanh (actor and critic heads on top)."""

        def __init__(self, observation_space, features_dim: int = HIDDEN) -> None:
            super().__init__(observation_space, features_dim)
            width = observation_space.shape[0]
            self.net = nn.Sequential(nn.Linear(width, HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, HIDDEN), nn.Tanh())

        def forward(self, observations: torch.Tensor) -> torch.Tensor:
            return self.net(observations)

    defaults = TrainConfig()
    env = DummyVecEnv(
        [lambda: ActionMasker(ProspectorGymEnv(time_max=defaults.env_time_max), lambda e: e.action_mask)] * NUM_ENVS
    )
    model = MaskablePPO(
        "MlpPolicy",
        env,
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
    start = time.perf_counter()
    model.learn(total_timesteps=steps)
    elapsed = time.perf_counter() - start
    env.close()
    return model.num_timesteps / elapsed


def bench_peers() -> None:
    peer_steps = int(os.environ.get("BENCH_PEER_STEPS", NUM_ENVS * ROLLOUT_STEPS))
    our_steps = int(os.environ.get("BENCH_PEER_OURS_STEPS", 8 * NUM_ENVS * ROLLOUT_STEPS))
    torch.set_num_threads(1)
    print(
        f"ppo peers: {NUM_ENVS} envs x {ROLLOUT_STEPS} steps, {MINIBATCHES} minibatches x {EPOCHS} epochs, "
        f"260-{HIDDEN}-{HIDDEN} tanh, 1 torch thread; SB3 {peer_steps:,} env steps, ours {our_steps:,}"
    )
    flags = [
        "--total-env-steps", str(our_steps), "--window-env-steps", str(min(our_steps, 100_000)),
        "--env-observation", "spec", "--num-envs", str(NUM_ENVS), "--ppo-rollout-steps", str(ROLLOUT_STEPS),
        "--ppo-num-minibatches", str(MINIBATCHES), "--ppo-update-epochs", str(EPOCHS),
        "--ppo-hidden-sizes", str(HIDDEN), str(HIDDEN), "--torch-threads", "1", "--eval-replays", "0",
        "--no-ppo-normalize-observations",  # SB3's policy takes the observation as it is
    ]  # fmt: skip
    ours: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as root:
        for threads in (1, 2):
            last = windows(train_run(Path(root), f"peer{threads}", *flags, "--batch-threads", str(threads)))[-1]
            ours[threads] = last["env_steps_total"] / last["elapsed_s"]
    sb3 = sb3_sps(peer_steps)
    print(f"  {'trainer':<34}{'env steps/s':>12}{'ours / SB3':>12}   (target >= 10x)")
    print(f"  {'SB3-contrib MaskablePPO':<34}{sb3:>12,.0f}{'':>12}")
    for threads, sps in ours.items():
        print(f"  {f'ours, batch_threads {threads}':<34}{sps:>12,.0f}{sps / sb3:>11.1f}x")
