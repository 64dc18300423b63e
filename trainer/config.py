"""The one definition of a training run's configuration.

`TrainConfig` is shared by the trainer CLI (`python -m trainer`), the run directory's
`config.json` and the service's `POST /runs` body. It imports nothing heavy, so the server
process can use it without pulling in torch or numba.

Validation is strict (an int field takes a JSON integer only: not `true`, `5.0` or `"5"`; a
float field takes a finite number) and bounded twice: by each field's own sane range, and by
the operator's `TrainLimits` on what a run may cost (memory, processes, time), read from the
validation context (`TrainConfig.model_validate(data, context={"limits": limits})`); without a
context the default TrainLimits apply, with `{"limits": None}` none (a run's own config.json,
accepted when the run was made).
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

TrainerBackend = Literal["random", "puffer_ppo"]
WandbMode = Literal["disabled", "offline", "online"]
EnvReward = Literal["original", "profit"]
EvalMode = Literal["sample", "argmax"]
EnvObservation = Literal["spec", "scouted"]
VectorBackend = Literal["native", "serial", "multiprocessing"]
Device = Literal["cpu", "cuda"]
Precision = Literal["float32", "bfloat16"]

DEFAULT_WINDOW_ENV_STEPS = 100_000
# What a milestone may watch: window metrics, evaluation metrics (PPO with eval_episodes), and
# how far the evaluated net profit is above the greedy baseline's on the same episodes.
MilestoneMetric = Literal[
    "return_mean",
    "net_profit_mean",
    "survival_rate",
    "eval_return_mean",
    "eval_net_profit_mean",
    "eval_survival_rate",
    "eval_net_profit_over_greedy",
]
OVER_GREEDY = "eval_net_profit_over_greedy"
DEFAULT_MILESTONES = [
    *(f"net_profit_mean:{t}" for t in (1000, 5000, 10000)),
    *(f"eval_net_profit_mean:{t}" for t in (1000, 5000, 10000)),
    "survival_rate:1",
    "eval_survival_rate:1",
    f"{OVER_GREEDY}:1",
]
# Config keys of older trainers that are accepted (old runs' config.json) and ignored.
DEPRECATED_KEYS = frozenset({"flush_partial_window"})
# Keys added after runs were written whose default has since changed: what a config.json
# without the key was trained with (see `saved_config`).
EARLIER_DEFAULTS: dict[str, Any] = {"ppo_normalize_observations": False}


def saved_config(data: dict[str, Any]) -> dict[str, Any]:
    """A run's own config.json as it was trained: keys it predates take their earlier default."""
    return {**EARLIER_DEFAULTS, **data}


def flag(name: str) -> str:
    """The command-line flag of a settings or config key: `total_env_steps` -> `--total-env-steps`."""
    return "--" + name.replace("_", "-")


class TrainLimits(BaseModel):
    """What one run may cost, set by the operator (the service's `PROSPECTOR_TRAIN_LIMITS`, the
    trainer's `--limits`), never by a client: a TrainConfig beyond them is refused, naming the field."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    max_total_env_steps: int = Field(10**12, gt=0, description="Largest total_env_steps.")
    max_num_envs: int = Field(4096, gt=0, description="Largest num_envs (games held in memory at once).")
    max_workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        gt=0,
        description="Largest num_workers (processes), batch_threads and torch_threads (default: this machine's "
        "CPU cores).",
    )
    max_hidden_size: int = Field(
        1024, gt=0, description="Widest layer in ppo_hidden_sizes (8 layers of 1024: ~8M parameters, 32 MiB)."
    )
    max_rollout_transitions: int = Field(
        262_144,
        gt=0,
        description="Largest ppo_rollout_steps x num_envs of a puffer_ppo run (~1.2 KiB of rollout "
        "buffer each: 2**18 is ~300 MiB).",
    )
    max_update_epochs: int = Field(64, gt=0, description="Largest ppo_update_epochs.")
    max_eval_episodes: int = Field(1000, ge=0, description="Largest eval_episodes (played at every checkpoint).")


class Milestone(BaseModel):
    """Reached by the first window (or its evaluation) whose `metric` is at least `threshold`.
    Also written `"metric:threshold"` (a flag value, or a JSON string)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    metric: MilestoneMetric
    threshold: float

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: Any) -> Any:
        if not isinstance(data, str):
            return data
        metric, sep, threshold = data.rpartition(":")
        try:
            return {"metric": metric, "threshold": float(threshold)} if sep else data
        except ValueError:
            raise ValueError(f"expected metric:threshold, got {data!r}") from None

    @property
    def tag(self) -> str:
        """The replay tag of this milestone, e.g. `milestone:net_profit_mean:1000`."""
        return f"milestone:{self.metric}:{self.threshold:g}"


# The TrainConfig fields bounded by a TrainLimits field of their own.
LIMITED_FIELDS = {
    "total_env_steps": "max_total_env_steps",
    "num_envs": "max_num_envs",
    "num_workers": "max_workers",
    "batch_threads": "max_workers",
    "torch_threads": "max_workers",
    "ppo_update_epochs": "max_update_epochs",
    "eval_episodes": "max_eval_episodes",
}


class TrainConfig(BaseModel):
    """Everything that decides what a training run does. Field names map to CLI flags
    (`total_env_steps` <-> `--total-env-steps`) and to the keys of a `--config` file."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, strict=True, allow_inf_nan=False, validate_default=True
    )

    trainer_backend: TrainerBackend = Field(
        "random", description="Which policy drives the envs: uniform random valid actions, or PPO."
    )
    total_env_steps: int = Field(
        2_000_000, gt=0, le=10**15, description="Env steps (agent decisions, summed over all envs) to train for."
    )
    window_env_steps: int = Field(
        DEFAULT_WINDOW_ENV_STEPS,
        gt=0,
        description="Env steps per metrics window; must not exceed total_env_steps (when not given: "
        "the smaller of 100000 and total_env_steps).",
    )
    checkpoint_every_windows: int = Field(
        1, gt=0, le=10**9, description="Write a checkpoint every N windows, and one at the end."
    )
    keep_checkpoints: int = Field(
        5,
        gt=0,
        le=10**6,
        description="Keep the newest N checkpoints (plus the best-evaluated and any pinned one); delete older ones.",
    )
    seed: int = Field(0, ge=0, lt=2**31, description="Training seed: env worlds, actions and weights.")
    env_time_max: int = Field(
        20_000, gt=0, le=10_000_000, description="Episode budget in game ticks (at most 10 million)."
    )
    env_reward: EnvReward = Field(
        "profit",
        description="Reward profile: profit (net profit in thousands of credits, cargo-value shaping, "
        "death loses the banked credits) or original (spec 1.7, which makes quitting at once optimal).",
    )
    env_observation: EnvObservation = Field(
        "scouted",
        description="spec: the 260 values of the original game; scouted: 24 more, what the player has seen "
        "of each neighbouring node (visited, best estimated asteroid value, undepleted share, hops home).",
    )
    env_reward_shaping: float = Field(
        1.0,
        ge=0,
        le=100,
        description="profit profile: weight k of the potential k x cargo market value / 1000 (0 = no shaping); "
        "its discount is ppo_gamma (per tick with ppo_gamma_per_tick), so the optimal policy is unchanged.",
    )
    env_death_penalty: float = Field(
        1.0,
        ge=0,
        le=1000,
        description="profit profile: the cost (thousands of credits) of each ending by death, on top of the banked "
        "credits; the spec's 1 by default. Above 1 it is not a shaping: it asks for more caution than profit does.",
    )
    num_envs: int = Field(
        512,
        gt=0,
        le=65_536,
        validation_alias=AliasChoices("num_envs", "ppo_num_envs"),
        description="Envs stepped together in one batch (both backends); alias ppo_num_envs.",
    )
    torch_threads: int = Field(1, gt=0, le=256, description="torch.set_num_threads for the trainer.")
    device: Device = Field(
        "cpu", description="Torch device of the PPO policy; cuda falls back to cpu (with a warning) if absent."
    )
    eval_episodes: int = Field(
        0,
        ge=0,
        le=10_000,
        description="PPO: held-out episodes the policy plays at each checkpoint (0 = off).",
    )
    eval_mode: EvalMode = Field(
        "sample",
        description="How the evaluated policy acts: sample from its distribution, or argmax (which can loop "
        "among equivalent actions).",
    )
    eval_temperature: float = Field(
        0.6,
        gt=0,
        le=10,
        description="Sampled evaluation draws from softmax(logits / eval_temperature): 1 is the policy as "
        "trained, below 1 sharpens it toward its most probable actions.",
    )
    eval_replays: int = Field(
        0,
        ge=0,
        le=64,
        description="Held-out episodes recorded as replays at each checkpoint, played by the checkpoint's "
        "policy (when not given: 1 for puffer_ppo, 0 for random).",
    )
    eval_seed: int = Field(
        12345, ge=0, lt=2**63, description="Seed of the held-out evaluation episodes (trainer.evaluate's default)."
    )
    milestones: list[Milestone] = Field(
        DEFAULT_MILESTONES,
        max_length=64,
        description="metric:threshold pairs; the first window (or evaluation) whose metric reaches the threshold "
        "is recorded in run_metadata.json's milestones_reached. eval_net_profit_over_greedy: evaluated net "
        "profit minus the greedy baseline's on the same episodes.",
    )
    wandb_mode: WandbMode = Field("disabled", description="Weights & Biases logging mode.")
    wandb_project: str = Field("asteroid-prospector", min_length=1, description="W&B project name.")

    num_workers: int = Field(
        1,
        gt=0,
        le=1024,
        validation_alias=AliasChoices("num_workers", "ppo_num_workers"),
        description="Vector-env worker processes (serial and multiprocessing backends); must divide num_envs; "
        "alias ppo_num_workers.",
    )
    vector_backend: VectorBackend = Field(
        "native",
        validation_alias=AliasChoices("vector_backend", "ppo_vector_backend"),
        description="pufferlib vectorisation: in-process native, serial, or multiprocessing; alias ppo_vector_backend.",
    )
    batch_threads: int = Field(
        1,
        gt=0,
        le=64,
        description="native backend: the batch is cut into this many parts, each acted on, stepped and trained by "
        "its own thread (numba and torch release the GIL); results depend on the number of parts, never on timing.",
    )
    ppo_rollout_steps: int = Field(64, gt=0, le=1_000_000, description="Steps per env collected before each update.")
    ppo_num_minibatches: int = Field(
        16,
        gt=0,
        le=1_000_000,
        description="Minibatches per update epoch (16 of 2,048 transitions: 4x the gradient steps of 4 for the "
        "same compute, which learned ~2x faster per env step).",
    )
    ppo_update_epochs: int = Field(4, gt=0, le=1000, description="Passes over each rollout batch.")
    ppo_learning_rate: float = Field(5e-4, gt=0, le=1, description="Adam learning rate.")
    ppo_gamma: float = Field(
        0.999, gt=0, le=1, description="Discount factor per env step (per tick with ppo_gamma_per_tick)."
    )
    ppo_gamma_per_tick: bool = Field(
        False, description="Discount by gamma**dt for an action that costs dt ticks, instead of gamma per decision."
    )
    ppo_bootstrap_time_limit: bool = Field(
        False,
        description="Bootstrap the value at the episode's time limit as a truncation. Off (default): the time "
        "limit is part of the game (time remaining is observed), so it ends the return like any ending.",
    )
    ppo_gae_lambda: float = Field(0.95, ge=0, le=1, description="GAE lambda.")
    ppo_clip_coef: float = Field(0.1, gt=0, le=10, description="PPO surrogate clipping coefficient.")
    ppo_ent_coef: float = Field(0.005, ge=0, le=10, description="Entropy bonus coefficient.")
    ppo_vf_coef: float = Field(0.5, ge=0, le=100, description="Value loss coefficient.")
    ppo_max_grad_norm: float = Field(0.5, gt=0, le=1e6, description="Global gradient-norm clip.")
    ppo_hidden_sizes: list[int] = Field(
        [128, 128], min_length=1, max_length=8, description="Widths of the policy's shared tanh MLP layers."
    )
    ppo_separate_critic: bool = Field(
        False, description="Give the critic a trunk of its own (same widths) instead of sharing the actor's."
    )
    ppo_normalize_observations: bool = Field(
        True,
        description="Standardise each observation value by its running mean and std over the rollouts seen so far "
        "(updated after each update, kept in the policy and its checkpoints), clipped to +-10.",
    )
    ppo_precision: Precision = Field(
        "float32",
        description="Precision of the policy's layers. bfloat16: its matrix products run under torch autocast "
        "(weights, gradients, optimizer, logits and losses stay float32); on CPUs with AVX-512 BF16 or AMX ~1.3x "
        "faster end to end at the default size (more for wider layers), on others slower.",
    )
    ppo_anneal_lr: bool = Field(True, description="Anneal the learning rate linearly to 0 over the run.")
    ppo_anneal_ent: bool = Field(True, description="Anneal the entropy coefficient linearly to 0 over the run.")
    ppo_norm_adv: bool = Field(True, description="Normalise advantages per minibatch.")
    ppo_clip_vloss: bool = Field(True, description="Clip the value loss around the rollout's values.")
    ppo_target_kl: float = Field(
        0.0, ge=0, le=100, description="Stop an update's epochs once their mean approx KL exceeds this (0 = off)."
    )
    ppo_normalize_reward: bool = Field(
        True, description="Divide rewards by the running std of the discounted return (for learning only)."
    )
    ppo_reward_clip: float = Field(
        0.0,
        ge=0,
        le=1e6,
        description="Clip scaled rewards to [-clip, clip]; 0 = no clip (default: a clip cuts the death penalty).",
    )

    @model_validator(mode="before")
    @classmethod
    def _defaults_that_depend_on_others(cls, data: Any) -> Any:
        """Drop deprecated keys; an unset window_env_steps becomes min(100000, total_env_steps),
        an unset eval_replays 1 for puffer_ppo (0 for random)."""
        if not isinstance(data, dict):
            return data
        data = {key: value for key, value in data.items() if key not in DEPRECATED_KEYS}
        if "eval_replays" not in data:
            data["eval_replays"] = 1 if data.get("trainer_backend") == "puffer_ppo" else 0
        total = data.get("total_env_steps")
        if "window_env_steps" not in data and type(total) is int and total > 0:
            data["window_env_steps"] = min(DEFAULT_WINDOW_ENV_STEPS, total)
        return data

    @classmethod
    def limits(cls, info: ValidationInfo) -> TrainLimits | None:
        """The TrainLimits of this validation: `context["limits"]` (None: no limits), else the defaults."""
        context = info.context or {}
        return context["limits"] if "limits" in context else TrainLimits()

    @field_validator(*LIMITED_FIELDS)
    @classmethod
    def _within_limit(cls, value: int, info: ValidationInfo) -> int:
        limits = cls.limits(info)
        if limits is not None:
            limit_name = LIMITED_FIELDS[info.field_name]
            _check_limit(value, limits, limit_name)
        return value

    @field_validator("window_env_steps")
    @classmethod
    def _window_fits_total(cls, value: int, info: ValidationInfo) -> int:
        total = info.data.get("total_env_steps")
        if total is not None and value > total:
            raise ValueError(f"window_env_steps ({value}) must not exceed total_env_steps ({total})")
        return value

    @field_validator("num_workers")
    @classmethod
    def _workers_divide_envs(cls, value: int, info: ValidationInfo) -> int:
        num_envs = info.data.get("num_envs")
        if num_envs is not None and num_envs % value:
            raise ValueError(f"num_envs ({num_envs}) must be a multiple of num_workers ({value})")
        return value

    @field_validator("batch_threads")
    @classmethod
    def _threads_fit_the_batch(cls, value: int, info: ValidationInfo) -> int:
        num_envs = info.data.get("num_envs")
        if num_envs is not None and value > num_envs:
            raise ValueError(f"batch_threads ({value}) must not exceed num_envs ({num_envs})")
        if value > 1 and info.data.get("vector_backend", "native") != "native":
            raise ValueError("batch_threads above 1 needs vector_backend native")
        if value > 1 and info.data.get("torch_threads", 1) > 1:
            # Threads that each start OpenMP teams get teams of varying size: the run would be
            # neither reproducible nor faster (the cores are taken already).
            raise ValueError("batch_threads above 1 needs torch_threads 1")
        return value

    @field_validator("ppo_rollout_steps")
    @classmethod
    def _rollout_fits(cls, value: int, info: ValidationInfo) -> int:
        limits, num_envs = cls.limits(info), info.data.get("num_envs")
        if limits is not None and num_envs is not None and info.data.get("trainer_backend") == "puffer_ppo":
            transitions = value * num_envs
            if transitions > limits.max_rollout_transitions:
                raise ValueError(
                    f"ppo_rollout_steps x num_envs ({value} x {num_envs} = {transitions}) exceeds the "
                    f"operator's limit max_rollout_transitions ({limits.max_rollout_transitions})"
                )
        return value

    @field_validator("ppo_hidden_sizes")
    @classmethod
    def _positive_widths(cls, value: list[int], info: ValidationInfo) -> list[int]:
        if any(width < 1 or width > 65_536 for width in value):
            raise ValueError(f"hidden sizes must be in 1..65536, got {value}")
        limits = cls.limits(info)
        if limits is not None:
            _check_limit(max(value), limits, "max_hidden_size")
        return value

    def reward_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of the env's `RewardSpec` for this run."""
        return {
            "profile": self.env_reward,
            "gamma": self.ppo_gamma,
            "per_tick": self.ppo_gamma_per_tick,
            "shaping": self.env_reward_shaping,
            "death_penalty": self.env_death_penalty,
        }

    @classmethod
    def field_names(cls) -> list[str]:
        """The config keys, in declaration order."""
        return list(cls.model_fields)


def _check_limit(value: int, limits: TrainLimits, limit_name: str) -> None:
    limit = getattr(limits, limit_name)
    if value > limit:
        raise ValueError(f"{value} exceeds the operator's limit {limit_name} ({limit})")


def load_config_file(path: Path) -> dict[str, Any]:
    """Read a JSON or TOML config file (chosen by suffix) into a dict of TrainConfig keys."""
    text = path.read_text()
    if path.suffix.lower() == ".toml":
        return tomllib.loads(text)
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object of config keys")
    return data
