"""The single-env gymnasium wrapper."""

import pytest
from gymnasium.utils.env_checker import check_env

from trainer.env import ProspectorGymEnv
from trainer.env.rules import A_BUY_KIT, A_CASH_OUT


@pytest.mark.filterwarnings("ignore:.*Not able to test alternative render modes:UserWarning")
def test_gym_wrapper_passes_the_gymnasium_env_checker():
    check_env(ProspectorGymEnv())


def test_gym_info_counts_spending_once_in_net_profit():
    """Spec 2.1: net_profit = credits now - credits at start (0); the original subtracted
    the spending a second time."""
    env = ProspectorGymEnv()
    _, info = env.reset(seed=4)
    assert (info["dt"], info["net_profit"], info["node_context"]) == (0, 0.0, "station")
    env._env.state.credits[0] = 500.0  # the wrapped batch's state, edited as in the rule tests
    env._env.refresh_views()
    _, _, _, _, info = env.step(A_BUY_KIT)
    assert info["credits"] == info["net_profit"] == 350.0
    assert info["profit_per_tick"] == 350.0  # over 1 tick
    _, _, terminated, _, info = env.step(A_CASH_OUT)
    assert terminated and info["survival"] == 1.0 and info["net_profit"] == 350.0
