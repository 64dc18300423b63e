"""trainer.vector: serial and multiprocessing workers give the loop the same view as native envs."""

import numpy as np
import pytest

from trainer.config import TrainConfig
from trainer.vector import make_vector_env

pytestmark = pytest.mark.usefixtures("warm_numba")  # these tests step the env in this process


@pytest.mark.parametrize("backend", ["serial", "multiprocessing"])
def test_two_workers_match_two_native_batches_seeded_like_them(backend):
    shared = make_vector_env(TrainConfig(num_envs=8, env_time_max=40, seed=3, vector_backend=backend, num_workers=2))
    halves = [make_vector_env(TrainConfig(num_envs=4, env_time_max=40, seed=s)) for s in (3, 4)]  # worker k: seed + k
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


def test_a_native_batch_stepped_in_two_threaded_parts_equals_it_stepped_whole():
    whole = make_vector_env(TrainConfig(num_envs=7, env_time_max=40, seed=3))
    parts = make_vector_env(TrainConfig(num_envs=7, env_time_max=40, seed=3, batch_threads=2))
    rng = np.random.default_rng(0)
    seen_parts: set[int] = set()

    def act(observations: np.ndarray, action_mask: np.ndarray, part: int) -> np.ndarray:
        seen_parts.add(part)
        rows = parts.rows[part]
        np.testing.assert_array_equal(action_mask, whole.action_mask[rows])
        return chosen[rows]

    finished_any = 0
    try:
        for _ in range(120):
            chosen = np.array([rng.choice(np.flatnonzero(row)) for row in whole.action_mask], dtype=np.int32)
            actions, finished = parts.act_and_step(act)
            np.testing.assert_array_equal(actions, chosen)
            np.testing.assert_array_equal(finished, whole.step(chosen))
            for name in ("observations", "action_mask", "rewards", "terminals", "truncations", "step_ticks"):
                np.testing.assert_array_equal(getattr(parts, name), getattr(whole, name))
            for name in ("episode_stats", "final_observations"):
                np.testing.assert_array_equal(getattr(parts, name)[finished], getattr(whole, name)[finished])
            finished_any += len(finished)
        assert finished_any > 0 and seen_parts == {0, 1}
        np.testing.assert_equal(parts.get_state(), whole.get_state())
    finally:
        whole.close()
        parts.close()
