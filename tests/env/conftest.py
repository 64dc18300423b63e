import pytest

pytest.register_assert_rewrite("tests.env.spec_model")

from trainer.env import ProspectorEnv, RewardSpec  # noqa: E402

WORLD_SEED = 7


@pytest.fixture(autouse=True)
def _kernels_loaded(warm_numba: None) -> None:
    """Every env test runs the kernels: loaded from the session's one compile (tests.numba_cache)."""


@pytest.fixture(params=["original", "profit"])
def env(request: pytest.FixtureRequest) -> ProspectorEnv:
    """One env at the start of an episode (world seed 7, 13 nodes), without auto-reset, under
    each reward profile (the spec model computes the reward of either)."""
    reward = RewardSpec(profile=request.param, gamma=0.99, shaping=1.5)
    env = ProspectorEnv(num_envs=1, seed=WORLD_SEED, autoreset=False, reward=reward)
    env.reset()
    return env
