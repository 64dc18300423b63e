"""The PPO policy: an MLP over the observation (260 values, 284 `scouted`) with an actor head over the 69 actions and a
critic head, and the masked categorical distribution it samples from.

Shared by the PPO backend (trainer.ppo), checkpoints and `python -m trainer.evaluate --checkpoint`.
Invalid actions get a logit of -inf before anything else sees the logits, so they are never
sampled, carry no probability in the log-probabilities and add nothing to the entropy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import torch
from torch import nn

from trainer.config import saved_config
from trainer.env import N_ACTIONS, OBS_DIM, ProspectorEnv
from trainer.env.batched import observation_size


Moment = TypeVar("Moment", float, torch.Tensor)
# The dtype a Policy's layers compute in, by its `precision` (TrainConfig.ppo_precision).
PRECISIONS: dict[str, torch.dtype] = {"float32": torch.float32, "bfloat16": torch.bfloat16}
_MOMENT_BLOCK_ROWS = 1024  # rows of a batch converted to float64 at once (they stay in cache)


def merged_moments(
    mean: Moment, var: Moment, count: Moment, batch_mean: Moment, batch_var: Moment, n: float
) -> tuple[Moment, Moment, Moment]:
    """Running (mean, variance, count) after merging a batch of n values with the given mean
    and (population) variance: Chan et al.'s parallel update, as gym's RunningMeanStd."""
    total = count + n
    delta = batch_mean - mean
    return mean + delta * n / total, (var * count + batch_var * n + delta**2 * count * n / total) / total, total


def bfloat16_is_native() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware (AVX-512 BF16 or AMX); without,
    torch converts in software and bfloat16 layers are slower than float32 ones."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


class ObservationNormalizer(nn.Module):
    """Standardises observations by the running mean and variance of every batch given to
    `update` (`merged_moments`), clipped to +-`clip`.
    The identity until the first update. Its statistics are buffers, so they travel with the
    policy's state dict."""

    def __init__(self, size: int, clip: float = 10.0, eps: float = 1e-8) -> None:
        super().__init__()
        self.clip, self.eps = clip, eps
        self.register_buffer("mean", torch.zeros(size, dtype=torch.float64))
        self.register_buffer("var", torch.ones(size, dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("shift", torch.zeros(size))
        self.register_buffer("scale", torch.ones(size))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return ((obs - self.shift) * self.scale).clamp(-self.clip, self.clip)

    @torch.no_grad()
    def update(self, batch: torch.Tensor) -> None:
        """Merge a (rows, size) batch of raw observations into the statistics. The batch's sums
        and sums of squares are taken in float64 a block of rows at a time (a float64 copy of a
        whole rollout, and column-wise mean and var over it, took ~100 ms an update)."""
        total = torch.zeros_like(self.mean)
        squares = torch.zeros_like(self.mean)
        for block in batch.split(_MOMENT_BLOCK_ROWS):
            block = block.to(torch.float64)
            total += block.sum(0)
            squares += (block * block).sum(0)
        n = float(batch.shape[0])
        batch_mean = total / n
        batch_var = (squares / n - batch_mean**2).clamp_min(0.0)
        mean, var, count = merged_moments(self.mean, self.var, self.count, batch_mean, batch_var, n)
        self.mean.copy_(mean)
        self.var.copy_(var)
        self.count.copy_(count)
        self.shift.copy_(self.mean.float())
        self.scale.copy_((self.var + self.eps).rsqrt().float())


class Policy(nn.Module):
    """obs (obs_size) -> tanh MLP trunk (hidden_sizes) -> actor logits (69) and critic value (1).

    With `separate_critic` the critic has a trunk of its own (same widths), so the value loss
    never shapes the features the actor reads (CleanRL's ppo.py keeps the two apart). With
    `normalize_observations` the observation is standardised first (`ObservationNormalizer`)."""

    def __init__(
        self,
        hidden_sizes: Sequence[int],
        generator: torch.Generator | None = None,
        obs_size: int = OBS_DIM,
        separate_critic: bool = False,
        normalize_observations: bool = False,
        precision: str = "float32",
    ) -> None:
        super().__init__()
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        self.precision = precision
        self.hidden_sizes = list(hidden_sizes)
        self.obs_size = obs_size
        self.obs_norm = ObservationNormalizer(obs_size) if normalize_observations else None
        self.trunk = _tanh_mlp(obs_size, self.hidden_sizes, generator)
        self.critic_trunk = _tanh_mlp(obs_size, self.hidden_sizes, generator) if separate_critic else None
        width = self.hidden_sizes[-1]
        # Small actor init: near-uniform over the valid actions at the start (CleanRL's 0.01).
        self.actor = _orthogonal(nn.Linear(width, N_ACTIONS), 0.01, generator)
        self.critic = _orthogonal(nn.Linear(width, 1), 1.0, generator)

    def forward(self, obs: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Masked logits (invalid actions at -inf) and values (batch,)."""
        obs = self._standardised(obs)
        with self._layer_precision(obs):
            hidden = self.trunk(obs)
            logits = self.actor(hidden)
            values = self.critic(hidden if self.critic_trunk is None else self.critic_trunk(obs))
        return logits.float().masked_fill(~mask, -math.inf), values.float().squeeze(-1)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """The critic's values (batch,) alone."""
        trunk = self.trunk if self.critic_trunk is None else self.critic_trunk
        obs = self._standardised(obs)
        with self._layer_precision(obs):
            values = self.critic(trunk(obs))
        return values.float().squeeze(-1)

    def _standardised(self, obs: torch.Tensor) -> torch.Tensor:
        return obs if self.obs_norm is None else self.obs_norm(obs)

    def _layer_precision(self, obs: torch.Tensor) -> torch.autocast:
        """Autocast to the precision's dtype (a no-op for float32): layers compute in it, while
        the weights, their gradients and everything after the layers stay float32."""
        dtype = PRECISIONS[self.precision]
        return torch.autocast(obs.device.type, dtype=dtype, enabled=dtype != torch.float32)

    def describe(self) -> str:
        """The architecture in one line, e.g. `260-128-128 tanh -> 69 + 1`."""
        widths = "-".join(map(str, [self.obs_size, *self.hidden_sizes]))
        heads = f"{N_ACTIONS}, {widths} tanh -> 1" if self.critic_trunk is not None else f"{N_ACTIONS} + 1"
        return f"{widths} tanh -> {heads}" + ("" if self.precision == "float32" else f" ({self.precision})")

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())


class _SigmoidTanh(torch.autograd.Function):
    """tanh(x) computed as 2 sigmoid(2x) - 1, with tanh's own backward (grad * (1 - y^2))."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        y = torch.sigmoid(x * 2).mul_(2).sub_(1)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (y,) = ctx.saved_tensors
        return torch.ops.aten.tanh_backward(grad, y)


class Tanh(nn.Module):
    """The hidden layers' tanh, ~3.5x faster than `nn.Tanh` on CPU: torch's CPU tanh kernel
    computes element by element (~2.5 ns each here, as long as the 128x128 matrix product before
    it), its sigmoid is vectorised. Within 2e-7 of tanh in float32 (torch's own: 3e-8)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _SigmoidTanh.apply(x)


def _tanh_mlp(width: int, hidden_sizes: Sequence[int], generator: torch.Generator | None) -> nn.Sequential:
    layers: list[nn.Module] = []
    for size in hidden_sizes:
        layers += [_orthogonal(nn.Linear(width, size), math.sqrt(2), generator), Tanh()]
        width = size
    return nn.Sequential(*layers)


def _orthogonal(layer: nn.Linear, gain: float, generator: torch.Generator | None) -> nn.Linear:
    nn.init.orthogonal_(layer.weight, gain, generator=generator)
    nn.init.zeros_(layer.bias)
    return layer


def log_probs(logits: torch.Tensor) -> torch.Tensor:
    """Log-probabilities of masked logits (-inf stays -inf for invalid actions)."""
    return torch.log_softmax(logits, dim=-1)


def sample(logits: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One action per row drawn from the masked categorical (Gumbel-max: -inf never wins)."""
    # u in [1e-20, 1) keeps the Gumbel noise finite, so -inf + noise stays -inf.
    uniform = torch.rand(logits.shape, generator=generator, device=logits.device).clamp_min(1e-20)
    return torch.argmax(logits - torch.log(-torch.log(uniform)), dim=-1)


def entropy(logp: torch.Tensor) -> torch.Tensor:
    """Entropy per row of a masked categorical given its log-probabilities. Masked actions
    (probability 0, log-probability -inf) contribute exactly 0, and so does their gradient
    (0 * -inf would be nan in both)."""
    finite_logp = torch.where(torch.isfinite(logp), logp, 0.0)
    return -(logp.exp() * finite_logp).sum(-1)


def load_policy(checkpoint: dict[str, Any]) -> Policy:
    """The policy of a PPO checkpoint (as read by trainer.checkpoint.load_checkpoint)."""
    if checkpoint["trainer_backend"] != "puffer_ppo":
        raise ValueError(f"not a PPO checkpoint (trainer_backend {checkpoint['trainer_backend']!r})")
    config = saved_config(checkpoint["config"])
    policy = Policy(
        config["ppo_hidden_sizes"],
        obs_size=observation_size(config.get("env_observation", "spec")),
        separate_critic=config.get("ppo_separate_critic", False),
        normalize_observations=config["ppo_normalize_observations"],
        precision=config.get("ppo_precision", "float32"),
    )
    policy.load_state_dict(checkpoint["backend"]["policy"])
    return policy.eval()


def policy_act(
    policy: Policy, mode: str = "sample", seed: int = 0, device: str = "cpu", temperature: float = 1.0
) -> Callable[[ProspectorEnv], np.ndarray]:
    """An act function for trainer.evaluate: each env's action sampled from the masked policy
    at `temperature` (`mode="sample"`, reproducible from `seed`) or its most probable valid
    action ("argmax", which can loop among equivalent actions)."""
    if mode not in ("sample", "argmax"):
        raise ValueError(f"eval mode must be 'sample' or 'argmax', got {mode!r}")
    if not temperature > 0:
        raise ValueError(f"temperature must be above 0, got {temperature!r}")
    generator = torch.Generator(device=device).manual_seed(seed)

    @torch.no_grad()
    def act(env: ProspectorEnv) -> np.ndarray:
        obs = torch.as_tensor(env.observations[:, : policy.obs_size], device=device)
        mask = torch.as_tensor(env.action_mask, device=device)
        logits, _ = policy(obs, mask)
        actions = logits.argmax(-1) if mode == "argmax" else sample(logits / temperature, generator)
        return actions.cpu().numpy().astype(np.int32)

    return act
