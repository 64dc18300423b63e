"""The puffer_ppo backend: GAE, masking, learning on a bandit, and whole runs (run dir,
determinism, resume, checkpoints, evaluation)."""

import json
import logging.handlers
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from app.store import RunStore
from tests.support import train, windows_of, without_timing
from trainer.checkpoint import load_checkpoint
from trainer.config import TrainConfig
from trainer.env import N_ACTIONS, OBS_DIM
from trainer.evaluate import main as evaluate_main
from trainer.logs import logger
from trainer.parts import PartRunner
from trainer.policy import ObservationNormalizer, Policy, Tanh, entropy, load_policy, log_probs, policy_act, sample
from trainer.ppo import EVAL_FIELDS, UPDATE_FIELDS, PPOBackend, compute_gae
from trainer.rundir import RunPaths, RunStatus, read_metadata
from trainer.vector import make_vector_env

pytestmark = pytest.mark.usefixtures("warm_numba")  # these tests step the env in this process

# 500-step windows over 8 envs x 24-step rollouts (192 env steps): checkpoints fall mid-rollout.
TINY = [
    "--trainer-backend", "puffer_ppo", "--num-envs", "8", "--env-time-max", "60", "--wandb-mode", "disabled",
    "--window-env-steps", "500", "--ppo-rollout-steps", "24", "--ppo-num-minibatches", "2",
    "--ppo-update-epochs", "2", "--ppo-hidden-sizes", "32", "32", "--checkpoint-every-windows", "2",
]  # fmt: skip


def test_gae_matches_a_hand_computed_rollout_with_a_terminal_and_a_truncation():
    # env 0 ends by a terminal at t=1; env 1 is truncated at t=0 with V(final obs) = 4.
    rewards = torch.tensor([[1.0, 1.0], [2.0, 1.0], [3.0, 1.0]])
    values = torch.tensor([[0.5, 1.0], [1.0, 1.0], [1.5, 1.0]])
    terminals = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    truncations = torch.tensor([[0.0, 1.0], [0.0, 0.0], [0.0, 0.0]])
    final_values = torch.tensor([[0.0, 4.0], [0.0, 0.0], [0.0, 0.0]])
    next_value = torch.tensor([2.0, 0.0])
    advantages = compute_gae(rewards, values, terminals, truncations, final_values, next_value, 0.9, 0.5)
    # env 0: t2: 3 + .9*2 - 1.5 = 3.3; t1 (terminal): 2 - 1 = 1; t0: (1 + .9*1 - .5) + .45*1 = 1.85
    # env 1: t2: 1 - 1 = 0; t1: 1 + .9 - 1 = .9; t0 (truncated): 1 + .9*4 - 1 = 3.6, nothing flows back
    expected = torch.tensor([[1.85, 3.6], [1.0, 0.9], [3.3, 0.0]])
    torch.testing.assert_close(advantages, expected)


def test_gae_takes_one_discount_per_transition():
    # one env, no ending; discounts .5 then .8 (gamma**dt for steps of different tick costs)
    rewards, values = torch.tensor([[1.0], [1.0]]), torch.tensor([[0.0], [2.0]])
    zeros = torch.zeros(2, 1)
    discounts = torch.tensor([[0.5], [0.8]])
    advantages = compute_gae(rewards, values, zeros, zeros, zeros, torch.tensor([10.0]), discounts, 1.0)
    # t1: 1 + .8*10 - 2 = 7; t0: (1 + .5*2 - 0) + .5*1*7 = 5.5
    torch.testing.assert_close(advantages, torch.tensor([[5.5], [7.0]]))


@pytest.mark.parametrize("bootstrap", [False, True])
def test_the_time_limit_ends_the_return_unless_bootstrapping_is_asked_for(bootstrap):
    config = TrainConfig(
        trainer_backend="puffer_ppo", num_envs=4, ppo_rollout_steps=8, ppo_hidden_sizes=[8], env_observation="spec",
        ppo_bootstrap_time_limit=bootstrap,
    )  # fmt: skip
    env = Bandit(4)
    env.terminals[:] = False
    env.truncations[1] = True  # env 1 reaches the time limit
    env.final_observations[1] = 0.5  # whose value is not exactly 0
    backend = PPOBackend(config)
    backend.act(env.observations, env.action_mask)
    env.step(np.zeros(4, np.int64))
    backend.after_step(env)
    stored = backend.rollout
    assert stored["terminals"][0].tolist() == [0.0, 0.0 if bootstrap else 1.0, 0.0, 0.0]
    assert stored["truncations"][0].tolist() == [0.0, 1.0 if bootstrap else 0.0, 0.0, 0.0]
    assert (stored["final_values"][0, 1] != 0) == bootstrap


def test_masked_actions_are_never_sampled_and_add_nothing_to_log_probs_or_entropy():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(512, N_ACTIONS, generator=generator) * 5
    mask = torch.rand(512, N_ACTIONS, generator=generator) < 0.1
    mask[:, 8] = True  # wide scan is always valid
    masked = logits.masked_fill(~mask, -torch.inf).requires_grad_()
    for _ in range(20):
        actions = sample(masked, generator)
        assert mask[torch.arange(512), actions].all()
    logp = log_probs(masked)
    assert torch.isneginf(logp[~mask]).all() and torch.isfinite(logp[mask]).all()
    ent = entropy(logp)
    ent.sum().backward()
    assert torch.isfinite(ent).all() and torch.isfinite(masked.grad).all()
    single = mask.sum(1) == 1
    assert torch.equal(ent[single], torch.zeros(int(single.sum())))



def test_the_hidden_layers_tanh_is_tanh_in_value_and_gradient():
    x = torch.linspace(-30, 30, 600_001, dtype=torch.float32).requires_grad_()
    y = Tanh()(x)
    exact = torch.tanh(x.detach().double())
    assert (y.detach().double() - exact).abs().max() < 2.5e-7
    assert y[0] == -1 and y[-1] == 1 and Tanh()(torch.zeros(1)) == 0  # saturates; 0 at 0
    grad = torch.rand(x.shape, generator=torch.Generator().manual_seed(0))
    y.backward(grad)
    assert torch.allclose(x.grad.double(), grad.double() * (1 - exact**2), rtol=0, atol=5e-7)
    assert torch.autograd.gradcheck(Tanh(), torch.randn(64, dtype=torch.float64, requires_grad=True))


class Bandit:
    """A one-step game over the PPO backend's interface: the reward is 1 for the action the
    observation points at (among 4 valid ones), 0 otherwise; every step ends an episode."""

    def __init__(self, num_envs: int) -> None:
        self.rng = np.random.default_rng(0)
        self.num_envs = num_envs
        self.action_mask = np.zeros((num_envs, N_ACTIONS), bool)
        self.action_mask[:, :4] = True
        self.terminals = np.ones(num_envs, bool)
        self.truncations = np.zeros(num_envs, bool)
        self.final_observations = np.zeros((num_envs, OBS_DIM), np.float32)
        self.rewards = np.zeros(num_envs, np.float32)
        self._new_targets()

    def _new_targets(self) -> None:
        self.targets = self.rng.integers(0, 4, self.num_envs)
        self.observations = np.zeros((self.num_envs, OBS_DIM), np.float32)
        self.observations[np.arange(self.num_envs), self.targets] = 1.0

    def step(self, actions: np.ndarray) -> None:
        self.rewards = (actions == self.targets).astype(np.float32)
        self._new_targets()


def test_ppo_learns_a_bandit_its_loss_falls_and_its_reward_rises():
    config = TrainConfig(
        trainer_backend="puffer_ppo", num_envs=64, total_env_steps=64 * 16 * 30, ppo_rollout_steps=16,
        ppo_num_minibatches=4, ppo_hidden_sizes=[32], ppo_learning_rate=3e-3, ppo_normalize_reward=False,
        env_observation="spec",
    )  # fmt: skip
    env = Bandit(config.num_envs)
    backend = PPOBackend(config)
    mean_rewards, value_losses = [], []
    for _ in range(30):
        rewards = []
        for _ in range(config.ppo_rollout_steps):
            env.step(backend.act(env.observations, env.action_mask))
            backend.after_step(env)
            rewards.append(env.rewards.mean())
        mean_rewards.append(float(np.mean(rewards)))
        value_losses.append(backend.window_fields()["value_loss"])
    # Cross-entropy of the policy against the right answer, on fresh observations.
    probe = Bandit(256)
    logits, _ = backend.policy(torch.from_numpy(probe.observations), torch.from_numpy(probe.action_mask))
    cross_entropy = -log_probs(logits)[torch.arange(256), torch.from_numpy(probe.targets)].mean().item()
    assert mean_rewards[0] < 0.4 and np.mean(mean_rewards[-3:]) > 0.9, mean_rewards
    assert cross_entropy < 0.5 < np.log(4)
    assert np.mean(value_losses[-3:]) < value_losses[0] / 2, value_losses


def test_under_the_original_reward_ppo_learns_to_cash_out_at_once(tmp_path):
    """Spec 2.9's reason for the profit profile: spec 1.7's reward makes quitting optimal."""
    code = train(
        tmp_path, "--run-id", "quit", "--trainer-backend", "puffer_ppo", "--env-reward",
        "original", "--total-env-steps", "70000", "--window-env-steps", "10000", "--num-envs", "64",
        "--ppo-rollout-steps", "64", "--ppo-hidden-sizes", "32", "--ppo-learning-rate", "0.001",
        # Larger, unnormalised steps than the defaults' clip 0.1: quitting is learned within
        # 70k steps instead of ~140k.
        "--ppo-clip-coef", "0.2", "--no-ppo-normalize-observations",
    )  # fmt: skip
    assert code == 0
    records = windows_of(RunPaths.of(tmp_path, "quit"))
    first, last = records[0], records[-1]
    assert first["length_mean"] > 5
    assert last["length_mean"] < 1.5 and last["cash_out_rate"] > 0.95
    assert last["action_fractions"]["cash_out"] > 0.9 > first["action_fractions"]["cash_out"]
    collapse = read_metadata(RunPaths.of(tmp_path, "quit")).collapse  # the warning the service shows
    assert collapse is not None and collapse.length_mean < 3 and collapse.window_id > 0


def test_a_short_ppo_run_leaves_a_valid_run_dir_and_an_evaluable_checkpoint(tmp_path, capsys):
    code = train(
        tmp_path, "--run-id", "ppo", *TINY, "--total-env-steps", "2000", "--eval-episodes", "4", "--env-observation", "scouted"
    )
    assert code == 0
    paths = RunPaths.of(tmp_path, "ppo")
    meta = read_metadata(paths)
    assert meta.status == RunStatus.completed and meta.env_steps_total == 2000
    assert (meta.device, meta.vector_backend, meta.num_workers) == ("cpu", "native", 1)
    assert meta.policy_architecture == "284-32-32 tanh -> 69 + 1"  # the scouted observation
    assert meta.policy_parameters == sum(p.numel() for p in Policy([32, 32], obs_size=284).parameters())

    windows = windows_of(paths)
    assert len(windows) == 4 and sum(w["updates"] for w in windows) == 2000 // (8 * 24)
    for w in windows:
        assert set(UPDATE_FIELDS) | {"updates"} <= set(w)
        assert w["invalid_action_rate"] == 0.0  # only valid actions are sampled
    assert all(w["policy_loss"] is not None for w in windows)
    # Checkpoints (every 2 windows) carry the evaluation.
    assert [set(EVAL_FIELDS) <= set(w) for w in windows] == [False, True, False, True]
    assert 0.0 <= windows[-1]["eval_survival_rate"] <= 1.0

    ckpt_path = paths.checkpoint(3)
    raw = torch.load(ckpt_path, weights_only=True)
    assert {"policy", "optimizer", "generator", "reward_scaler", "updates", "rollout"} <= set(raw["backend"])
    for stored in raw["backend"]["rollout"].values():  # the rows collected so far, not the whole buffer
        assert len(stored) == raw["backend"]["rollout_step"]
        assert stored.untyped_storage().nbytes() == stored.numel() * stored.element_size()
    assert raw["env_steps_total"] >= 2000 and raw["trainer_backend"] == "puffer_ppo"
    policy = load_policy(load_checkpoint(ckpt_path))
    assert policy.hidden_sizes == [32, 32]

    assert evaluate_main(["--checkpoint", str(ckpt_path), "--episodes", "3", "--time-max", "60"]) == 0
    out = capsys.readouterr().out
    temperature = TrainConfig().eval_temperature  # the checkpoint's own, unless --temperature says otherwise
    assert f"policy: {ckpt_path} (sample, temperature {temperature:g})  episodes: 3" in out
    assert "net_profit" in out and "actions:" in out
    assert evaluate_main(["--checkpoint", str(ckpt_path), "--episodes", "3", "--temperature", "1.5"]) == 0
    assert f"policy: {ckpt_path} (sample, temperature 1.5)" in capsys.readouterr().out


class _FixedEnv:
    """What an act function reads of an env: observations and the action mask."""

    def __init__(self, rows: int, mask: np.ndarray) -> None:
        self.observations = np.zeros((rows, OBS_DIM), dtype=np.float32)
        self.action_mask = np.repeat(mask[None, :], rows, axis=0)


@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_sampled_actions_follow_the_softmax_of_the_logits_over_the_temperature(temperature):
    policy = Policy([8], generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        policy.actor.weight.zero_()
        policy.actor.bias.copy_(torch.linspace(0.0, 2.0, N_ACTIONS))
    mask = np.zeros(N_ACTIONS, dtype=bool)
    mask[[3, 40, 60, 68]] = True
    env = _FixedEnv(40_000, mask)
    actions = policy_act(policy, "sample", seed=1, temperature=temperature)(env)
    logits = policy.actor.bias.detach()[mask] / temperature
    expected = torch.softmax(logits, -1).numpy()
    shares = np.bincount(actions, minlength=N_ACTIONS)[mask] / len(actions)
    assert np.abs(shares - expected).max() < 0.01  # ~4 standard errors at 40,000 draws
    with pytest.raises(ValueError, match="temperature"):
        policy_act(policy, "sample", temperature=0.0)


def test_a_separate_critic_keeps_the_value_loss_out_of_the_actors_trunk(tmp_path):
    shared, separate = Policy([16]), Policy([16], separate_critic=True)
    assert separate.parameter_count() == shared.parameter_count() + sum(p.numel() for p in shared.trunk.parameters())
    obs = torch.randn(5, OBS_DIM)
    for policy in (shared, separate):
        policy.zero_grad()
        policy.value(obs).sum().backward()
        trunk_grad = sum(float(p.grad.abs().sum()) for p in policy.trunk.parameters() if p.grad is not None)
        assert (trunk_grad > 0) == (policy is shared)

    assert train(tmp_path, "--run-id", "sep", *TINY, "--total-env-steps", "1000", "--ppo-separate-critic") == 0
    paths = RunPaths.of(tmp_path, "sep")
    assert read_metadata(paths).policy_architecture == "284-32-32 tanh -> 69, 284-32-32 tanh -> 1"
    loaded = load_policy(load_checkpoint(paths.checkpoint(1)))
    assert loaded.critic_trunk is not None
    assert evaluate_main(["--checkpoint", str(paths.checkpoint(1)), "--episodes", "2", "--time-max", "60"]) == 0


def test_a_bfloat16_policy_computes_its_layers_in_bfloat16_and_keeps_float32_weights_and_outputs(tmp_path):
    exact, fast = (Policy([32, 32], torch.Generator().manual_seed(0), precision=p) for p in ("float32", "bfloat16"))
    obs, mask = torch.randn(64, OBS_DIM, generator=torch.Generator().manual_seed(1)), torch.rand(64, N_ACTIONS) < 0.5
    (logits, values), (fast_logits, fast_values) = exact(obs, mask), fast(obs, mask)
    assert fast_logits.dtype == fast_values.dtype == torch.float32
    assert torch.equal(torch.isinf(fast_logits), ~mask)
    for fast_out, out in ((fast_values, values), (fast_logits[mask], logits[mask])):
        assert not torch.equal(fast_out, out)  # rounded to bfloat16's 8 significant bits on the way...
        torch.testing.assert_close(fast_out, out, rtol=0, atol=0.03 * out.abs().max().item())  # ...no further
    (log_probs(fast_logits)[mask].sum() + fast_values.sum()).backward()
    assert all(p.dtype == p.grad.dtype == torch.float32 and p.grad.abs().sum() > 0 for p in fast.parameters())
    with pytest.raises(ValueError, match="precision"):
        Policy([32], precision="float16")

    assert train(tmp_path, "--run-id", "bf16", *TINY, "--total-env-steps", "1000", "--ppo-precision", "bfloat16") == 0
    paths = RunPaths.of(tmp_path, "bf16")
    assert read_metadata(paths).policy_architecture == "284-32-32 tanh -> 69 + 1 (bfloat16)"
    assert load_policy(load_checkpoint(paths.checkpoint(1))).precision == "bfloat16"
    assert evaluate_main(["--checkpoint", str(paths.checkpoint(1)), "--episodes", "2", "--time-max", "60"]) == 0


def test_asking_for_bfloat16_on_a_cpu_without_bfloat16_instructions_warns_that_it_is_slower(monkeypatch):
    seen = logging.handlers.BufferingHandler(capacity=100)
    logger.addHandler(seen)
    try:
        for native in (True, False):
            monkeypatch.setattr("trainer.ppo.bfloat16_is_native", lambda native=native: native)
            PPOBackend(TrainConfig(trainer_backend="puffer_ppo", num_envs=8, ppo_precision="bfloat16"))
    finally:
        logger.removeHandler(seen)
    assert ["slower than in float32" in record.getMessage() for record in seen.buffer] == [True]


def test_the_observation_normalizer_standardises_by_the_running_statistics_of_every_batch_seen():
    norm = ObservationNormalizer(3, clip=4.0)
    raw = torch.tensor([[1.0, -2.0, 0.5], [3.0, 2.0, 0.5]])
    assert torch.equal(norm(raw), raw)  # the identity before the first update
    generator = torch.Generator().manual_seed(0)
    batches = [torch.randn(n, 3, generator=generator) * torch.tensor([0.01, 1.0, 5.0]) + 2.0 for n in (7, 50, 1)]
    for batch in batches:
        norm.update(batch)
    seen = torch.cat(batches).double()
    torch.testing.assert_close(norm.mean, seen.mean(0))
    torch.testing.assert_close(norm.var, seen.var(0, unbiased=False))
    expected = (raw.double() - seen.mean(0)) / (seen.var(0, unbiased=False) + 1e-8).sqrt()
    torch.testing.assert_close(norm(raw), expected.clamp(-4.0, 4.0).float())
    assert norm(raw)[0, 0] == -4.0  # 100 std below the mean: clipped


def test_a_run_with_normalized_observations_keeps_its_statistics_in_the_checkpoint(tmp_path):
    assert train(tmp_path, "--run-id", "norm", *TINY, "--total-env-steps", "1000", "--ppo-normalize-observations") == 0
    paths = RunPaths.of(tmp_path, "norm")
    loaded = load_policy(load_checkpoint(paths.checkpoint(1)))
    assert loaded.obs_norm is not None and loaded.obs_norm.count == 1000 // (8 * 24) * 8 * 24  # updates x batch
    assert loaded.obs_norm.mean.abs().sum() > 0
    assert evaluate_main(["--checkpoint", str(paths.checkpoint(1)), "--episodes", "2", "--time-max", "60"]) == 0


def test_a_run_written_before_observation_normalisation_existed_resumes_and_evaluates_without_it(tmp_path):
    assert train(tmp_path, "--run-id", "old", *TINY, "--total-env-steps", "1000", "--no-ppo-normalize-observations") == 0
    paths = RunPaths.of(tmp_path, "old")
    saved = json.loads(paths.config.read_text())
    del saved["ppo_normalize_observations"]  # as older trainers wrote it
    paths.config.write_text(json.dumps(saved))
    checkpoint = load_checkpoint(paths.checkpoint(1))
    del checkpoint["config"]["ppo_normalize_observations"]
    assert load_policy(checkpoint).obs_norm is None
    assert train(tmp_path, "--resume", str(paths.root), "--total-env-steps", "1500") == 0
    assert read_metadata(paths).env_steps_total == 1500
    config = RunStore(tmp_path).read_config("old")  # the service's view of the run
    assert config is not None and config.ppo_normalize_observations is False


def test_the_entropy_bonus_anneals_to_zero_on_the_learning_rates_schedule_unless_told_not_to(tmp_path):
    argv = [*TINY, "--total-env-steps", "2000", "--eval-episodes", "0", "--ppo-ent-coef", "0.02"]
    assert train(tmp_path, "--run-id", "ent", *argv, "--ppo-learning-rate", "0.001") == 0
    assert train(tmp_path, "--run-id", "flat", *argv, "--total-env-steps", "1000", "--no-ppo-anneal-ent") == 0
    assert {w["entropy_coef"] for w in windows_of(RunPaths.of(tmp_path, "flat"))} == {0.02}
    windows = windows_of(RunPaths.of(tmp_path, "ent"))
    coefs = [w["entropy_coef"] for w in windows]
    assert coefs == sorted(coefs, reverse=True) and coefs[0] < 0.02 and coefs[-1] > 0
    for w in windows:  # both follow the fraction of updates left
        assert w["entropy_coef"] / 0.02 == pytest.approx(w["learning_rate"] / 0.001)


@pytest.mark.parametrize(
    ("threads", "flags"),
    [("1", []), ("2", []), ("1", ["--no-ppo-normalize-observations"]), ("2", ["--ppo-precision", "bfloat16"])],
    ids=["1", "2", "no-obs-norm", "2-bfloat16"],
)
def test_same_seed_gives_identical_windows_and_a_resumed_run_equals_an_uninterrupted_one(tmp_path, threads, flags):
    tiny = [*TINY, "--batch-threads", threads, *flags]
    assert train(tmp_path, "--run-id", "whole", *tiny, "--total-env-steps", "2500") == 0
    assert train(tmp_path, "--run-id", "again", *tiny, "--total-env-steps", "2500") == 0
    whole = without_timing(windows_of(RunPaths.of(tmp_path, "whole")))
    assert len(whole) == 5 and sum(w["updates"] for w in whole) == 2500 // (8 * 24)
    assert without_timing(windows_of(RunPaths.of(tmp_path, "again"))) == whole

    # A run killed after window 2 (its last checkpoint: window 1, mid-rollout) and resumed.
    shutil.copytree(tmp_path / "whole", tmp_path / "killed")
    killed = RunPaths.of(tmp_path, "killed")
    killed.windows.write_bytes(b"".join(killed.windows.read_bytes().splitlines(keepends=True)[:3]))
    for window_id in (3, 4):
        killed.checkpoint(window_id).unlink()
    assert train(tmp_path, "--resume", str(killed.root)) == 0
    assert without_timing(windows_of(killed)) == whole


def collect(config: TrainConfig, threaded: bool) -> tuple[list, set[str]]:
    """Three rollouts and their updates under `config`: every step's actions and rewards, the
    update fields and the final weights, and the names of the threads that ran parts. Threaded,
    the two parts of every act and every minibatch gradient are made to overlap (a barrier)."""
    env, backend = make_vector_env(config), PPOBackend(config)
    if not threaded:
        env.runner = backend.runner = PartRunner(config.batch_threads, threaded=False)
    both_running = threading.Barrier(config.batch_threads if threaded else 1, timeout=120)
    part_threads: set[str] = set()

    def overlapping(run: Callable) -> Callable:
        def part(*args: Any) -> Any:
            part_threads.add(threading.current_thread().name)
            both_running.wait()
            return run(*args)

        return part

    act = overlapping(backend.act)
    backend._part_gradient = overlapping(backend._part_gradient)
    trace: list = []
    for _ in range(3 * config.ppo_rollout_steps):
        actions, finished = env.act_and_step(act)
        backend.after_step(env)
        trace += [actions.copy(), env.rewards.copy(), finished.copy()]
    trace.append(backend.window_fields())
    trace += [p.detach().clone() for p in backend.policy.parameters()]
    env.close()
    return trace, part_threads


@pytest.fixture
def one_torch_thread():
    """torch.set_num_threads(1), as the trainer sets it (batch_threads > 1 needs torch_threads 1)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_two_threads_give_bit_for_bit_the_rollouts_and_updates_of_their_parts_run_in_order(one_torch_thread):
    config = TrainConfig(
        trainer_backend="puffer_ppo", num_envs=9, env_time_max=40, seed=5, batch_threads=2, ppo_rollout_steps=6,
        ppo_num_minibatches=3, ppo_update_epochs=2, ppo_hidden_sizes=[16],
    )  # fmt: skip
    overlapped, threads = collect(config, threaded=True)
    in_order, one_thread = collect(config, threaded=False)
    assert len(threads) == 2 and len(one_thread) == 1
    assert sum(len(item) for item in overlapped[2:-7:3]) > 0  # some episodes ended
    assert overlapped[-7]["updates"] == 3
    for got, expected in zip(overlapped, in_order, strict=True):
        if isinstance(got, dict):
            assert got == expected
        elif isinstance(got, torch.Tensor):
            assert torch.equal(got, expected)
        else:
            np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("vector_backend", ["serial", "multiprocessing"])
def test_a_ppo_run_under_worker_backends_completes(tmp_path, vector_backend):
    code = train(
        tmp_path, "--run-id", "w", *TINY, "--total-env-steps", "1000",
        "--vector-backend", vector_backend, "--num-workers", "2",
    )  # fmt: skip
    assert code == 0
    meta = read_metadata(RunPaths.of(tmp_path, "w"))
    assert (meta.vector_backend, meta.num_workers) == (vector_backend, 2)
    assert meta.episodes_total > 0


def test_the_readme_explains_every_ppo_window_field():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## PPO\n", 1)[1].split("\n## ", 1)[0]
    for name in [*UPDATE_FIELDS, "updates", *EVAL_FIELDS]:
        assert f"`{name}`" in section, name
