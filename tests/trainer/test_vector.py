"""trainer.vector: serial and multiprocessing workers give the loop the same view as native envs."""

import numpy as np
import pytest

from trainer.config import TrainConfig
from trainer.vector import VectorEnv


@pytest.mark.parametrize("backend", ["serial", "multiprocessing"])
def test_two_workers_match_two_native_batches_seeded_like_them(backend):
    shared = VectorEnv(TrainConfig(num_envs=8, env_time_max=40, seed=3, ppo_vector_backend=backend, ppo_num_workers=2))
    halves = [VectorEnv(TrainConfig(num_envs=4, env_time_max=40, seed=s)) for s in (3, 4)]  # worker k: seed + k
    rng = np.random.default_rng(0)
    finished_any = 0
    try:
        for _ in range(120):
            np.testing.assert_array_equal(shared.observations, np.concatenate([h.observations for h in halves]))
            np.testing.assert_array_equal(shared.action_mask, np.concatenate([h.action_mask for h in halves]))
            valid = [rng.choice(np.flatnonzero(row)) for row in shared.action_mask]
            actions = np.array(valid, dtype=np.int32)
            finished = shared.step(actions)
            expected = np.concatenate([h.step(actions[4 * k : 4 * k + 4]) + 4 * k for k, h in enumerate(halves)])
            np.testing.assert_array_equal(finished, expected)
            for name in ("rewards", "terminals", "truncations", "step_ticks", "invalid_actions"):
                np.testing.assert_array_equal(getattr(shared, name), np.concatenate([getattr(h, name) for h in halves]))
            for name in ("episode_stats", "final_observations"):
                whole = np.concatenate([getattr(h, name) for h in halves])
                np.testing.assert_array_equal(getattr(shared, name)[finished], whole[finished])
            finished_any += len(finished)
        assert finished_any > 0 and shared.truncations.dtype == bool
    finally:
        shared.close()
