import pytest

pytest.register_assert_rewrite("spec_model")

from trainer.env import ProspectorEnv  # noqa: E402

WORLD_SEED = 7


@pytest.fixture
def env() -> ProspectorEnv:
    """One env at the start of an episode (world seed 7, 13 nodes), without auto-reset."""
    env = ProspectorEnv(num_envs=1, seed=WORLD_SEED, autoreset=False)
    env.reset()
    return env
