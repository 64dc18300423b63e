"""The scripted baselines and the evaluation seed rule."""

import numpy as np

from trainer.env import N_ACTIONS, ProspectorEnv, RandomValidPolicy
from trainer.env.rng import integers
from trainer.evaluate import baseline_act, evaluation_seeds, run_episodes


def test_greedy_beats_random_on_mean_net_profit_over_200_evaluation_episodes():
    greedy = run_episodes(baseline_act("greedy", 12345), 200, 12345)
    random = run_episodes(baseline_act("random", 12345), 200, 12345)
    (greedy_mean, greedy_ci), (random_mean, random_ci) = (r.summary()["net_profit"] for r in (greedy, random))
    assert greedy_mean - greedy_ci > random_mean + random_ci


def test_evaluation_seeds_have_the_top_bit_set_and_training_seeds_do_not():
    seeds = evaluation_seeds(12345, 200)
    assert (seeds >= np.uint64(2**63)).all() and len(set(seeds.tolist())) == 200
    env = ProspectorEnv(num_envs=256, seed=2**64 - 1)
    env.reset()
    policy = RandomValidPolicy(256, seed=0)
    training_seeds = set(env.state.episode_seed.tolist())
    for _ in range(200):  # through auto-resets too
        env.step(policy.act(env.action_mask))
        training_seeds.update(env.state.episode_seed.tolist())
    assert len(training_seeds) > 256 and max(training_seeds) < 2**63


def test_random_policy_takes_the_kth_valid_action_for_the_k_its_stream_draws():
    masks = np.random.default_rng(0).random((512, N_ACTIONS)) < 0.3
    masks[::7] = False
    masks[::7, 5] = True  # rows with a single valid action
    policy = RandomValidPolicy(512, seed=4)
    streams = policy.get_state()
    actions = policy.act(masks).copy()
    for i, row in enumerate(masks):
        valid = np.flatnonzero(row)
        assert actions[i] == valid[integers(streams, i, 0, len(valid))]
    assert (policy.get_state() == streams).all()  # the policy's streams advanced as the copy's did
