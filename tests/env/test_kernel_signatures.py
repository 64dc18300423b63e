"""One compiled kernel serves every batch size: a single env (a play session, the Gymnasium
wrapper) runs the code a training batch does, so `python -m trainer.warmup` compiles each
kernel once (a second set for one-env batches cost ~20 s on a fresh cache)."""

import numpy as np

from trainer.env import ProspectorEnv, RandomValidPolicy
from trainer.env.dynamics import reset_batch, start_seeded_episodes, step_batch
from trainer.env.observation import write_views

KERNELS = (reset_batch, start_seeded_episodes, step_batch, write_views)


def _run(env: ProspectorEnv) -> None:
    env.reset()
    env.step(RandomValidPolicy(env.num_envs, seed=1).act(env.action_mask))
    env.start_episodes(np.arange(env.num_envs, dtype=np.uint64))
    env.refresh_views()


def test_a_single_env_runs_the_kernels_compiled_for_a_batch() -> None:
    _run(ProspectorEnv(num_envs=3, autoreset=False, observation="scouted"))
    batch_signatures = [set(kernel.signatures) for kernel in KERNELS]
    _run(ProspectorEnv(num_envs=1, autoreset=False, observation="scouted"))
    assert [set(kernel.signatures) for kernel in KERNELS] == batch_signatures
