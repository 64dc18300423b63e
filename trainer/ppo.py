"""PPO (clipped surrogate, GAE) in plain torch: the `puffer_ppo` backend.

Read top to bottom: the reward scaler, GAE, then the backend. The training loop (trainer.train)
steps the vector env and calls, per batch step,

    env.act_and_step(backend.act)       per part of the batch: policy forward, masked sample
                                        (obs/mask/action/log-prob/value stored), env step
    backend.after_step(env)             reward, episode ends and truncation bootstraps stored;
                                        after ppo_rollout_steps steps: GAE and the update epochs

so one rollout is `ppo_rollout_steps x num_envs` transitions in preallocated (steps, envs)
buffers. The env resets a finished episode inside its step: the observation after a step is
the next episode's first, and the transition of that step is marked done, so nothing ever
links two episodes. The time limit is part of the game (the observation shows the time
remaining), so by default it ends the return like a terminal (destroyed, stranded, cash-out);
with `ppo_bootstrap_time_limit` it is a truncation and the value of the episode's final
observation is bootstrapped (Pardo et al. 2018, "Time Limits in Reinforcement Learning").

Discount: gamma per decision, or with `ppo_gamma_per_tick` gamma**dt for an action that costs
dt ticks (the game is a semi-MDP: a travel costs up to 8 ticks, a hold 1).

The env's rewards are the task (the `env_reward` profile) and are never changed; for learning
they are divided by a running standard deviation of the discounted return
(`ppo_normalize_reward`), as gym's NormalizeReward does, and clipped at `ppo_reward_clip` (0 =
no clip: a clip at 10 cut the profit profile's death penalty).

Every random draw (weight init, action sampling, minibatch order) comes from the backend's
own torch generators, seeded from the run's seed and saved in checkpoints.

With `batch_threads` k > 1 (trainer.parts), part j of the batch samples its actions from its
own generator (seeded seed + j * 2**31; part 0's is the one that also draws init and order),
and each minibatch's gradient is the sum, in part order, of its k parts' gradients, each
computed by its own thread. With k = 1 this is the plain algorithm.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from trainer.config import TrainConfig
from trainer.env import N_ACTIONS, RewardSpec
from trainer.env.batched import observation_size
from trainer.evaluate import ActFn, run_episodes
from trainer.logs import logger
from trainer.parts import PartRunner, batch_parts
from trainer.policy import Policy, bfloat16_is_native, entropy, log_probs, merged_moments, policy_act, sample

if TYPE_CHECKING:
    from trainer.backends import StepView

# The window-record fields of the PPO backend, each the mean over the updates in the window.
UPDATE_FIELDS: dict[str, str] = {
    "policy_loss": "clipped surrogate loss (lower is better), mean over all minibatches of the update",
    "value_loss": "critic loss: 0.5 x squared error to the GAE returns (scaled reward units), "
    "clipped around the old values when ppo_clip_vloss",
    "entropy": "mean entropy of the masked action distribution (nats)",
    "approx_kl": "estimate of KL(old || new), mean over minibatches ((ratio - 1) - log ratio)",
    "clip_fraction": "fraction of samples whose probability ratio left [1 - clip, 1 + clip]",
    "explained_variance": "1 - Var(returns - values) / Var(returns) of the rollout (1: perfect critic)",
    "learning_rate": "Adam learning rate of the update (annealed linearly when ppo_anneal_lr)",
    "entropy_coef": "entropy bonus coefficient of the update (annealed linearly to 0 when ppo_anneal_ent)",
}
# Evaluation fields, added to the window records that carry a checkpoint (eval_episodes > 0).
EVAL_FIELDS: dict[str, str] = {
    "eval_return_mean": "mean return of the policy (acting as eval_mode says) on eval_episodes held-out episodes",
    "eval_net_profit_mean": "mean net profit (credits) of those episodes",
    "eval_survival_rate": "fraction of those episodes the ship survived",
    "eval_length_mean": "mean length of those episodes in env steps",
    "eval_ticks_mean": "mean length of those episodes in ticks",
}


class RewardScaler:
    """Divides rewards by the running std of each env's discounted return (reset at episode
    ends), then clips them (clip 0 = never); the mean is not subtracted, so the sign of every
    reward is kept."""

    def __init__(self, num_envs: int, clip: float) -> None:
        self.clip = clip
        self.returns = np.zeros(num_envs)
        self.mean = 0.0
        self.var = 1.0
        self.count = 1e-4

    def __call__(self, rewards: np.ndarray, done: np.ndarray, discounts: np.ndarray | float) -> np.ndarray:
        """Scaled rewards; `discounts` is this step's discount per env (or one for all)."""
        self.returns = self.returns * discounts + rewards
        self._observe(self.returns)
        self.returns[done] = 0.0
        scaled = rewards / math.sqrt(self.var + 1e-8)
        return np.clip(scaled, -self.clip, self.clip) if self.clip > 0 else scaled

    def _observe(self, batch: np.ndarray) -> None:
        """Merge the batch into the running mean and variance."""
        self.mean, self.var, self.count = merged_moments(
            self.mean, self.var, self.count, float(batch.mean()), float(batch.var()), len(batch)
        )

    def state_dict(self) -> dict[str, Any]:
        return {"returns": self.returns.copy(), "mean": self.mean, "var": self.var, "count": self.count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.returns[:] = state["returns"]
        self.mean, self.var, self.count = float(state["mean"]), float(state["var"]), float(state["count"])


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    terminals: torch.Tensor,
    truncations: torch.Tensor,
    final_values: torch.Tensor,
    next_value: torch.Tensor,
    gamma: float | torch.Tensor,
    gae_lambda: float,
) -> torch.Tensor:
    """Generalised advantage estimates (steps, envs) of one rollout.

    `values[t]` is V(s_t); `next_value` V of the observation after the last step; `gamma` the
    discount, one number or one per transition (steps, envs). When an episode ends at step t,
    the bootstrap is V(final observation) (`final_values[t]`) for a truncation and 0 for a
    terminal, and no advantage flows back across the reset.
    """
    discounts = torch.as_tensor(gamma, dtype=rewards.dtype, device=rewards.device).expand_as(rewards)
    advantages = torch.zeros_like(rewards)
    last_gae = torch.zeros_like(next_value)
    for t in reversed(range(rewards.shape[0])):
        following = next_value if t == rewards.shape[0] - 1 else values[t + 1]
        ended = torch.maximum(terminals[t], truncations[t])
        bootstrap = torch.where(truncations[t] > 0, final_values[t], (1.0 - ended) * following)
        delta = rewards[t] + discounts[t] * bootstrap - values[t]
        last_gae = delta + discounts[t] * gae_lambda * (1.0 - ended) * last_gae
        advantages[t] = last_gae
    return advantages


def resolve_device(requested: str) -> torch.device:
    """`cuda` when asked for and available, else `cpu` (with a warning if cuda was asked for)."""
    if requested == "cuda" and not torch.cuda.is_available():
        logger.warning("device cuda requested but not available: training on cpu")
        return torch.device("cpu")
    return torch.device(requested)


class PPOBackend:
    """The `puffer_ppo` backend: acts with the policy, stores rollouts, updates with PPO."""

    def __init__(self, config: TrainConfig) -> None:
        torch.set_num_threads(config.torch_threads)  # before any thread that runs the policy starts
        self.config = config
        self.device = resolve_device(config.device)
        if config.ppo_precision == "bfloat16" and self.device.type == "cpu" and not bfloat16_is_native():
            logger.warning(
                "ppo_precision bfloat16: this CPU has no bfloat16 instructions, so training runs slower than in float32"
            )
        self.parts = batch_parts(config.num_envs, config.batch_threads)
        self.runner = PartRunner(config.batch_threads)
        self.generators = [
            torch.Generator(device=self.device).manual_seed(config.seed + k * 2**31) for k in range(len(self.parts))
        ]
        init_generator = torch.Generator().manual_seed(config.seed)
        self.obs_size = observation_size(config.env_observation)
        self.policy = Policy(
            config.ppo_hidden_sizes,
            init_generator,
            self.obs_size,
            config.ppo_separate_critic,
            config.ppo_normalize_observations,
            config.ppo_precision,
        ).to(self.device)
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=config.ppo_learning_rate, eps=1e-5)
        self.reward_scaler = (
            RewardScaler(config.num_envs, config.ppo_reward_clip) if config.ppo_normalize_reward else None
        )
        steps, envs = config.ppo_rollout_steps, config.num_envs
        self.batch_size = steps * envs
        self._step_discounts = np.full(envs, config.ppo_gamma)  # gamma per decision, for every env
        self.total_updates = max(1, config.total_env_steps // self.batch_size)

        def buffer(*shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
            return torch.zeros((steps, envs, *shape), dtype=dtype, device=self.device)

        self.rollout: dict[str, torch.Tensor] = {
            "obs": buffer(self.obs_size),
            "masks": buffer(N_ACTIONS, dtype=torch.bool),
            "actions": buffer(dtype=torch.int64),
            "logprobs": buffer(),
            "values": buffer(),
            "rewards": buffer(),
            "terminals": buffer(),
            "truncations": buffer(),
            "final_values": buffer(),
            "discounts": buffer(),
        }
        self.step = 0  # the rollout's next free row
        self.updates = 0
        self._update_stats: list[dict[str, float]] = []  # updates not yet reported in a window

    # ---- rollout -------------------------------------------------------------------------

    @torch.no_grad()
    def act(self, observations: np.ndarray, action_mask: np.ndarray, part: int = 0) -> np.ndarray:
        """Sample valid actions for part `part` of the batch and store its observations, masks,
        actions, log-probs and values in this step's rollout row."""
        t, rows, buf = self.step, self.parts[part], self.rollout
        obs, mask = buf["obs"][t, rows], buf["masks"][t, rows]
        obs.copy_(torch.from_numpy(observations))
        mask.copy_(torch.from_numpy(action_mask))
        logits, values = self.policy(obs, mask)
        actions = sample(logits, self.generators[part])
        buf["actions"][t, rows] = actions
        buf["logprobs"][t, rows] = log_probs(logits).gather(1, actions[:, None]).squeeze(1)
        buf["values"][t, rows] = values
        return actions.cpu().numpy().astype(np.int32)

    def after_step(self, env: StepView) -> None:
        """Store the step's rewards and episode ends; update when the rollout is full."""
        c, t, buf = self.config, self.step, self.rollout
        done = env.terminals | env.truncations
        discounts = c.ppo_gamma**env.step_ticks if c.ppo_gamma_per_tick else self._step_discounts
        rewards = env.rewards if self.reward_scaler is None else self.reward_scaler(env.rewards, done, discounts)
        truncations = env.truncations if c.ppo_bootstrap_time_limit else np.zeros_like(done)
        buf["rewards"][t].copy_(torch.from_numpy(np.asarray(rewards, dtype=np.float32)))
        buf["terminals"][t].copy_(torch.from_numpy(done & ~truncations))
        buf["truncations"][t].copy_(torch.from_numpy(truncations))
        buf["discounts"][t].copy_(torch.from_numpy(discounts.astype(np.float32)))
        buf["final_values"][t].zero_()
        with torch.no_grad():
            truncated = np.flatnonzero(truncations)
            if truncated.size:
                final_obs = torch.from_numpy(env.final_observations[truncated, : self.obs_size]).to(self.device)
                buf["final_values"][t, torch.from_numpy(truncated).to(self.device)] = self.policy.value(final_obs)
            self.step += 1
            if self.step < self.config.ppo_rollout_steps:
                return
            next_value = self.policy.value(torch.from_numpy(env.observations).to(self.device))
        self._update(next_value)
        self.step = 0

    # ---- update --------------------------------------------------------------------------

    def _update(self, next_value: torch.Tensor) -> None:
        """GAE over the full rollout, then ppo_update_epochs passes of minibatch PPO."""
        c, buf = self.config, self.rollout
        advantages = compute_gae(
            buf["rewards"],
            buf["values"],
            buf["terminals"],
            buf["truncations"],
            buf["final_values"],
            next_value,
            buf["discounts"],
            c.ppo_gae_lambda,
        )
        returns = advantages + buf["values"]
        batch = {
            "obs": buf["obs"].reshape(-1, self.obs_size),
            "masks": buf["masks"].reshape(-1, N_ACTIONS),
            "actions": buf["actions"].reshape(-1),
            "logprobs": buf["logprobs"].reshape(-1),
            "values": buf["values"].reshape(-1),
            "returns": returns.reshape(-1),
        }
        b_advantages = advantages.reshape(-1)

        fraction_left = max(0.0, 1.0 - self.updates / self.total_updates)
        lr = c.ppo_learning_rate * (fraction_left if c.ppo_anneal_lr else 1.0)
        ent_coef = c.ppo_ent_coef * (fraction_left if c.ppo_anneal_ent else 1.0)
        for group in self.optimizer.param_groups:
            group["lr"] = lr

        minibatch = max(1, self.batch_size // c.ppo_num_minibatches)
        sums: dict[str, float] = defaultdict(float)
        minibatches = 0
        for _ in range(c.ppo_update_epochs):
            order = torch.randperm(self.batch_size, generator=self.generators[0], device=self.device)
            epoch_kl, epoch_minibatches = 0.0, 0
            for start in range(0, self.batch_size, minibatch):
                idx = order[start : start + minibatch]
                mb_adv = b_advantages[idx]
                if c.ppo_norm_adv and len(idx) > 1:
                    mb_adv = (mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8)
                pieces = batch_parts(len(idx), len(self.parts))
                results = self.runner.map(
                    lambda k: self._part_gradient(batch, idx[pieces[k]], mb_adv[pieces[k]], len(idx), ent_coef)
                )
                for k, param in enumerate(self.policy.parameters()):
                    param.grad = _ordered_sum([grads[k] for grads, _ in results])
                torch.nn.utils.clip_grad_norm_(self.policy.parameters(), c.ppo_max_grad_norm)
                self.optimizer.step()

                terms = {name: _ordered_sum([t[name] for _, t in results]).item() for name in results[0][1]}
                for name, value in terms.items():
                    sums[name] += value
                epoch_kl += terms["approx_kl"]
                epoch_minibatches += 1
                minibatches += 1
            if c.ppo_target_kl > 0 and epoch_kl / epoch_minibatches > c.ppo_target_kl:
                break  # early stop: the policy moved too far from the one that collected the data

        if self.policy.obs_norm is not None:  # the next rollout is standardised by this one too
            self.policy.obs_norm.update(batch["obs"])
        stats = {name: total / minibatches for name, total in sums.items()}
        var_returns = batch["returns"].var().item()
        stats["explained_variance"] = (
            math.nan if var_returns == 0 else 1.0 - (batch["returns"] - batch["values"]).var().item() / var_returns
        )
        stats["learning_rate"] = lr
        stats["entropy_coef"] = ent_coef
        self._update_stats.append(stats)
        self.updates += 1

    def _part_gradient(
        self,
        batch: dict[str, torch.Tensor],
        idx: torch.Tensor,
        advantages: torch.Tensor,
        minibatch: int,
        ent_coef: float,
    ) -> tuple[tuple[torch.Tensor, ...], dict[str, torch.Tensor]]:
        """One part of a minibatch: the gradient of its share of the minibatch loss (its terms
        summed, divided by the minibatch's size) and its shares of the loss terms and statistics."""
        c = self.config
        # index_select gathers rows ~3x faster than `tensor[idx]` (the general indexing kernel)
        rows = {name: tensor.index_select(0, idx) for name, tensor in batch.items()}
        logits, new_values = self.policy(rows["obs"], rows["masks"])
        logp = log_probs(logits)
        log_ratio = logp.gather(1, rows["actions"][:, None]).squeeze(1) - rows["logprobs"]
        ratio = log_ratio.exp()
        surrogate = torch.max(-advantages * ratio, -advantages * ratio.clamp(1 - c.ppo_clip_coef, 1 + c.ppo_clip_coef))
        old_values, returns = rows["values"], rows["returns"]
        value_error = (new_values - returns) ** 2
        if c.ppo_clip_vloss:
            clipped = old_values + (new_values - old_values).clamp(-c.ppo_clip_coef, c.ppo_clip_coef)
            value_error = torch.max(value_error, (clipped - returns) ** 2)
        policy_loss = surrogate.sum() / minibatch
        value_loss = 0.5 * value_error.sum() / minibatch
        mean_entropy = entropy(logp).sum() / minibatch
        loss = policy_loss - ent_coef * mean_entropy + c.ppo_vf_coef * value_loss
        grads = torch.autograd.grad(loss, list(self.policy.parameters()))
        with torch.no_grad():
            terms = {
                "policy_loss": policy_loss,
                "value_loss": value_loss,
                "entropy": mean_entropy,
                "approx_kl": ((ratio - 1) - log_ratio).sum() / minibatch,
                "clip_fraction": ((ratio - 1).abs() > c.ppo_clip_coef).float().sum() / minibatch,
            }
        return grads, {name: value.detach() for name, value in terms.items()}

    # ---- the Backend seam: window fields, evaluation, run info, checkpoints --------------

    def window_fields(self) -> dict[str, Any]:
        """The UPDATE_FIELDS averaged over the updates since the last window, and `updates`."""
        done, self._update_stats = self._update_stats, []
        fields: dict[str, Any] = {
            name: (_finite_mean([s[name] for s in done]) if done else None) for name in UPDATE_FIELDS
        }
        fields["updates"] = len(done)
        return fields

    def evaluate(self) -> dict[str, Any]:
        """EVAL_FIELDS of the policy on eval_episodes held-out seeds ({} if 0)."""
        c = self.config
        if c.eval_episodes == 0:
            return {}
        act = policy_act(self.policy, c.eval_mode, c.eval_seed, str(self.device), c.eval_temperature)
        result = run_episodes(
            lambda n: act,
            c.eval_episodes,
            c.eval_seed,
            c.env_time_max,
            RewardSpec(**c.reward_kwargs()),
            c.env_observation,
        )
        return {
            "eval_return_mean": float(result.column("return").mean()),
            "eval_net_profit_mean": float(result.column("net_profit").mean()),
            "eval_survival_rate": float(result.column("survival").mean()),
            "eval_length_mean": float(result.column("length").mean()),
            "eval_ticks_mean": float(result.column("ticks").mean()),
        }

    def replay_act(self) -> Callable[[int], ActFn]:
        """The evaluated policy (eval_mode at eval_temperature, seeded by eval_seed), for replays."""
        c = self.config
        act = policy_act(self.policy, c.eval_mode, c.eval_seed, str(self.device), c.eval_temperature)
        return lambda n: act

    def run_info(self) -> dict[str, Any]:
        """What run_metadata.json records about the learner."""
        return {
            "device": str(self.device),
            "policy_architecture": self.policy.describe(),
            "policy_parameters": self.policy.parameter_count(),
        }

    def state_dict(self) -> dict[str, Any]:
        """Policy, optimizer, RNG, reward scaler, counters and the rollout collected so far."""
        return {
            "policy": self.policy.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generators[0].get_state(),
            "part_generators": [generator.get_state() for generator in self.generators[1:]],
            "reward_scaler": {} if self.reward_scaler is None else self.reward_scaler.state_dict(),
            "updates": self.updates,
            "rollout_step": self.step,
            # A copy of the rows collected: torch.save would write a view's whole buffer.
            "rollout": {name: buf[: self.step].to("cpu", copy=True) for name, buf in self.rollout.items()},
            "update_stats": list(self._update_stats),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore state_dict() (as loaded by trainer.checkpoint.load_checkpoint)."""
        self.policy.load_state_dict(state["policy"])
        self.optimizer.load_state_dict(state["optimizer"])
        saved = [state["generator"], *state.get("part_generators", [])]  # older checkpoints: one generator
        if len(saved) != len(self.generators):
            raise ValueError(
                f"the checkpoint was trained with batch_threads {len(saved)}, this run has {len(self.generators)}"
            )
        for generator, generator_state in zip(self.generators, saved):
            generator.set_state(generator_state)
        if self.reward_scaler is not None:
            self.reward_scaler.load_state_dict(state["reward_scaler"])
        self.updates = int(state["updates"])
        self.step = int(state["rollout_step"])
        for name, buf in self.rollout.items():
            buf[: self.step] = state["rollout"][name]
        self._update_stats = [{k: float(v) for k, v in s.items()} for s in state["update_stats"]]


def _ordered_sum(tensors: list[torch.Tensor]) -> torch.Tensor:
    """The sum of the parts' tensors, added in part order (the same bits however they ran)."""
    total = tensors[0]
    for tensor in tensors[1:]:
        total = total + tensor
    return total


def _finite_mean(values: list[float]) -> float | None:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else None
