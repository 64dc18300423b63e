"""The Asteroid Prospector game as a compiled, batched environment."""

from trainer.env.numba_cache import use_source_keyed_cache

use_source_keyed_cache()

# The kernels below are compiled into the cache directory set above.
from trainer.env.baselines import GreedyPolicy, ProspectorPolicy, RandomValidPolicy  # noqa: E402
from trainer.env.batched import ProspectorEnv  # noqa: E402
from trainer.env.gym_env import ProspectorGymEnv  # noqa: E402
from trainer.env.reward import RewardSpec  # noqa: E402
from trainer.env.rules import ACTION_FAMILIES, EPISODE_STATS, N_ACTIONS, OBS_DIM  # noqa: E402

__all__ = [
    "ACTION_FAMILIES",
    "EPISODE_STATS",
    "N_ACTIONS",
    "OBS_DIM",
    "GreedyPolicy",
    "ProspectorEnv",
    "ProspectorGymEnv",
    "ProspectorPolicy",
    "RandomValidPolicy",
    "RewardSpec",
]
