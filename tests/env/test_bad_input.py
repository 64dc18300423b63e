"""Bad input fails loudly, naming the argument (the issue's 'bad input' list)."""

import numpy as np
import pytest

from trainer.env import ProspectorEnv, ProspectorGymEnv
from trainer.env.rules import A_CASH_OUT, A_HOLD


@pytest.fixture
def batch() -> ProspectorEnv:
    env = ProspectorEnv(num_envs=4, seed=1)
    env.reset()
    return env


@pytest.mark.parametrize("actions", [np.zeros(4, dtype=np.float32), np.zeros(4, dtype=bool), ["6"] * 4])
def test_non_integer_actions_are_a_type_error(batch, actions):
    with pytest.raises(TypeError, match="actions"):
        batch.step(actions)


@pytest.mark.parametrize("actions", [np.zeros(3, dtype=np.int64), np.zeros((4, 1), dtype=np.int64), 6])
def test_actions_of_the_wrong_shape_are_a_value_error(batch, actions):
    with pytest.raises(ValueError, match="actions"):
        batch.step(actions)


@pytest.mark.parametrize("action", [-1, 69])
def test_out_of_range_action_in_the_gym_env_is_a_value_error(action):
    env = ProspectorGymEnv()
    env.reset(seed=1)
    with pytest.raises(ValueError, match="action"):
        env.step(action)


@pytest.mark.parametrize("argument, value", [("num_envs", 0), ("num_envs", -3), ("time_max", -1), ("time_max", 0)])
def test_bad_sizes_are_a_value_error_naming_the_argument(argument, value):
    with pytest.raises(ValueError, match=argument):
        ProspectorEnv(**{argument: value})


def test_gym_env_rejects_a_negative_time_max():
    with pytest.raises(ValueError, match="time_max"):
        ProspectorGymEnv(time_max=-5)


def test_stepping_a_finished_single_env_is_an_error():
    env = ProspectorGymEnv()
    env.reset(seed=1)
    env.step(A_CASH_OUT)
    with pytest.raises(RuntimeError):
        env.step(A_HOLD)
