"""`python -m trainer.warmup`: compile the env's numba kernels into their on-disk cache.

A trainer on a fresh clone spends most of its first ~25 s compiling; `make serve` runs this
once in the background so the service's first run starts in about a second. With the cache
already warm it takes about a second and compiles nothing.
"""

from __future__ import annotations

import sys
import time

import numpy as np


def warm_up() -> float:
    """Step every kernel a training run uses (both reward profiles and observations, the
    scripted players) on a tiny batch, and those of a play session (one env without
    auto-reset, its action costs and events); return the seconds it took."""
    start = time.perf_counter()
    from trainer.env import ProspectorEnv, ProspectorPolicy, RandomValidPolicy, RewardSpec
    from trainer.play import PlaySession

    for profile, observation in (("profit", "scouted"), ("original", "spec")):
        env = ProspectorEnv(num_envs=2, seed=0, reward=RewardSpec(profile=profile), observation=observation)
        env.reset()
        random_policy, prospector = RandomValidPolicy(2, seed=0), ProspectorPolicy(2)
        for _ in range(4):
            env.step(random_policy.act(env.action_mask))
            env.step(prospector.act(env))
        env.start_episodes(np.array([1, 2], dtype=np.uint64))
    session = PlaySession(seed=0, time_max=100)
    session.step(session.reset()["actions"][0]["index"])
    return time.perf_counter() - start


def main() -> int:
    print(f"numba kernels ready in {warm_up():.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
