"""The action mask (spec 2.6) over many random states: it allows exactly the actions that spec
1.4 does not call invalid, less the no-ops of spec 2.10, and a masked action takes the invalid
branch (HOLD, one tick)."""

import numpy as np

from trainer.env import ProspectorEnv, RandomValidPolicy
from trainer.env.rules import A_HOLD

N = 64
PRICES = (60.0, 120.0, 210.0, 150.0, 175.0, 110.0, 280.0)  # fuel S/M/L, kit, stabilizer, decoy, overhaul


def valid_by_the_spec(env: ProspectorEnv) -> np.ndarray:
    """The (N, 69) table of spec 1.4's 'invalid when' column, negated, less spec 2.10's no-ops."""
    s = env.state
    rows = np.arange(env.num_envs)
    node = s.node
    at_station = node == 0
    count = s.asteroid_count[rows, node]
    depletion = s.depletion[rows, node]
    selected = np.clip(s.selected, 0, None)
    selection = (s.selected >= 0) & (depletion[rows, selected] < 1.0)
    slots = np.arange(16)[None, :]
    credits = s.credits[:, None]
    valid = np.ones((env.num_envs, 69), dtype=bool)
    valid[:, 0:6] = s.neighbor[rows, node] >= 0
    valid[:, 9] = valid[:, 10] = selection
    valid[:, 12:28] = (slots < count[:, None]) & (depletion < 1.0) & (slots != s.selected[:, None])
    valid[:, 28:31] = selection[:, None]
    valid[:, 31] = selection & (s.stabilizers > 0)
    valid[:, 34] = (s.kits > 0) & (s.tool < 100.0)
    valid[:, 35] = (s.kits > 0) & (s.hull < 100.0)
    carried = s.cargo > 0.0
    valid[:, 36:42] = carried
    valid[:, 42] = at_station & (s.alert > 0.0)
    valid[:, 43:61] = at_station[:, None] & np.repeat(carried, 3, axis=1)
    valid[:, 61:68] = at_station[:, None] & (credits >= PRICES)
    valid[:, 61:64] &= (s.fuel < 1000.0)[:, None]
    valid[:, 64:67] &= np.stack([s.kits, s.stabilizers, s.decoys], axis=1) < 12
    valid[:, 67] &= (s.hull < 100.0) | (s.tool < 100.0)
    return valid


def test_mask_allows_exactly_the_valid_actions_and_masked_ones_take_the_invalid_branch():
    env = ProspectorEnv(num_envs=N, seed=11)
    env.reset()
    policy = RandomValidPolicy(N, seed=11)
    shake = np.random.default_rng(11)
    for _ in range(10):
        for _ in range(25):
            env.step(policy.act(env.action_mask))
        # widen the states random play reaches: credits around the shop prices, items around the caps
        env.state.credits[:] = shake.choice([0.0, *PRICES, 109.99, 5000.0], size=N)
        for items in (env.state.kits, env.state.stabilizers, env.state.decoys):
            items[:] = shake.integers(0, 13, size=N)
        env.refresh_views()
        mask = env.action_mask.copy()
        np.testing.assert_array_equal(mask, valid_by_the_spec(env))

        start = env.get_state()
        env.step(np.full(N, A_HOLD))
        held, held_obs = env.get_state(), env.observations.copy()
        for action in range(69):
            env.set_state(start)
            env.step(np.full(N, action))
            np.testing.assert_array_equal(env.invalid_actions, ~mask[:, action], err_msg=f"action {action}")
            masked = ~mask[:, action]
            assert (env.step_ticks[masked] == 1).all()
            np.testing.assert_array_equal(env.observations[masked], held_obs[masked], err_msg=f"action {action}")
            after = env.get_state()
            for name in ("rng", "fuel", "hull", "heat", "alert", "credits", "cargo", "node", "ticks", "kits"):
                np.testing.assert_array_equal(after[name][masked], held[name][masked], err_msg=f"{name} {action}")
