"""Spec 2.7 and 3: an episode is a function of its seed and the actions taken, whatever the
batch around it; the same (seed, N) and actions give bit-identical batches."""

from dataclasses import dataclass, field

import numpy as np
import pytest

from trainer.env import EPISODE_STATS, ProspectorEnv, ProspectorGymEnv, RandomValidPolicy
from trainer.evaluate import evaluation_seeds

N = 64
MAX_STEPS = 2000


@dataclass
class Trajectory:
    actions: list[int] = field(default_factory=list)
    observations: list[np.ndarray] = field(default_factory=list)
    rewards: list[np.float32] = field(default_factory=list)
    ends: list[tuple[bool, bool]] = field(default_factory=list)
    stats: np.ndarray | None = None

    def assert_identical(self, other: "Trajectory") -> None:
        assert other.actions == self.actions
        np.testing.assert_array_equal(np.array(other.observations), np.array(self.observations))
        assert np.array(other.rewards, dtype=np.float32).tobytes() == np.array(self.rewards).tobytes()
        assert other.ends == self.ends
        if self.stats is not None and other.stats is not None:
            np.testing.assert_array_equal(other.stats, self.stats)


def play_in_batch(env: ProspectorEnv, i: int, actions: list[int] | None, others: RandomValidPolicy) -> Trajectory:
    """Follow env i of a batch (no auto-reset) to its episode's end: env i takes `actions`
    (or, if None, random valid ones, recorded), the others take `others`' actions."""
    own = RandomValidPolicy(env.num_envs, seed=123)
    trajectory = Trajectory(observations=[env.observations[i].copy()])
    while not env.state.done[i]:
        batch_actions = others.act(env.action_mask).copy()
        k = len(trajectory.actions)
        batch_actions[i] = own.act(env.action_mask)[i] if actions is None else actions[k]
        env.step(batch_actions)
        trajectory.actions.append(int(batch_actions[i]))
        trajectory.observations.append(env.observations[i].copy())
        trajectory.rewards.append(env.rewards[i])
        trajectory.ends.append((bool(env.terminals[i]), bool(env.truncations[i])))
        assert k < MAX_STEPS
    trajectory.stats = env.episode_stats[i].copy()
    return trajectory


@pytest.fixture(scope="module")
def reference() -> tuple[int, Trajectory]:
    """Env 57 of a batch of 64 reset with seed 5: its episode seed and its first episode."""
    env = ProspectorEnv(num_envs=N, seed=5, autoreset=False)
    env.reset()
    return int(env.state.episode_seed[57]), play_in_batch(env, 57, None, RandomValidPolicy(N, seed=1))


def batch_with(seed: int, position: int) -> ProspectorEnv:
    env = ProspectorEnv(num_envs=N, seed=0, autoreset=False)
    seeds = np.arange(1000, 1000 + N, dtype=np.uint64)
    seeds[position] = seed
    env.start_episodes(seeds)
    return env


def test_episode_is_identical_alone_in_a_batch_of_one(reference):
    seed, expected = reference
    env = ProspectorEnv(num_envs=1, seed=0, autoreset=False)
    env.start_episodes(np.array([seed], dtype=np.uint64))
    expected.assert_identical(play_in_batch(env, 0, expected.actions, RandomValidPolicy(1, seed=2)))


@pytest.mark.parametrize("position", [0, 57])
def test_episode_is_identical_at_any_position_beside_envs_taking_other_actions(reference, position):
    seed, expected = reference
    env = batch_with(seed, position)
    expected.assert_identical(play_in_batch(env, position, expected.actions, RandomValidPolicy(N, seed=99)))


def test_episode_is_identical_through_the_gym_wrapper(reference):
    seed, expected = reference
    gym_env = ProspectorGymEnv()
    obs, _ = gym_env.reset(seed=seed)
    played = Trajectory(observations=[obs])
    for action in expected.actions:
        obs, reward, terminated, truncated, info = gym_env.step(action)
        played.actions.append(action)
        played.observations.append(obs)
        played.rewards.append(np.float32(reward))
        played.ends.append((terminated, truncated))
    expected.assert_identical(played)
    assert info["scan_count"] == expected.stats[EPISODE_STATS.index("scan_count")]


def test_same_seed_and_actions_give_bit_identical_batches_across_auto_resets():
    runs = []
    for _ in range(2):
        env = ProspectorEnv(num_envs=8, seed=21)
        env.reset()
        policy = RandomValidPolicy(8, seed=21)
        record = []
        for _ in range(300):
            obs, rewards, terminals, truncations, infos = env.step(policy.act(env.action_mask))
            finished = infos[0]["finished"] if infos else []
            stats = env.episode_stats[finished]
            record.append((obs.tobytes(), rewards.tobytes(), terminals.tobytes(), stats.tobytes()))
        runs.append(record)
    assert runs[0] == runs[1]


def test_episodes_after_an_evaluation_seed_stay_in_the_evaluation_range():
    env = ProspectorEnv(num_envs=2, seed=0)
    env.start_episodes(evaluation_seeds(7, 2))
    cash_out = np.full(2, 68, dtype=np.int32)
    for _ in range(3):
        env.step(cash_out)
        assert (env.state.episode_seed >= np.uint64(1 << 63)).all()


def _steps(env: ProspectorEnv, policy: RandomValidPolicy, count: int) -> list[tuple[bytes, ...]]:
    record = []
    for _ in range(count):
        obs, rewards, terminals, truncations, _ = env.step(policy.act(env.action_mask))
        record.append((obs.tobytes(), rewards.tobytes(), terminals.tobytes(), truncations.tobytes()))
    return record


def _whole_arrays(state: dict[str, np.ndarray], like: ProspectorEnv) -> dict[str, np.ndarray]:
    """`state` as get_state wrote it before it kept only the visited nodes' asteroid rows (and
    stored the views too, here stale ones: set_state rewrites them)."""
    whole = dict(state, observations=np.zeros_like(like.observations), action_mask=np.ones_like(like.action_mask))
    for name, array in like.state._asdict().items():
        if array.ndim > state[name].ndim:
            whole[name] = np.zeros_like(array)
            whole[name][state["asteroids_ready"]] = state[name]
    return whole


@pytest.mark.parametrize("saved_form", ["visited rows", "whole arrays (older checkpoints)"])
def test_a_restored_state_steps_exactly_as_the_env_it_was_taken_from(saved_form):
    env = ProspectorEnv(num_envs=8, seed=5)
    env.reset()
    policy = RandomValidPolicy(8, seed=5)
    _steps(env, policy, 150)
    state, policy_state = env.get_state(), policy.get_state()
    views = env.observations.copy(), env.action_mask.copy()
    visited = state["asteroids_ready"]
    assert 0 < visited.sum() < visited.size
    assert state["composition"].shape == (visited.sum(), *env.state.composition.shape[2:])
    expected = _steps(env, policy, 300)  # auto-resets and first visits included

    restored = ProspectorEnv(num_envs=8, seed=99)
    restored.reset()
    _steps(restored, RandomValidPolicy(8, seed=99), 40)  # other worlds in every row first
    restored.set_state(state if saved_form == "visited rows" else _whole_arrays(state, restored))
    np.testing.assert_array_equal(restored.observations, views[0])  # rewritten from the state
    np.testing.assert_array_equal(restored.action_mask, views[1])
    policy.set_state(policy_state)
    assert _steps(restored, policy, 300) == expected
