"""The window record's model: what each line of metrics/windows.jsonl (and a run's `latest_window`)
holds. The one definition of its fields: the trainer writes them in this order
(trainer.windows.WINDOW_FIELDS), the service types its metrics and metadata with it. Imports
only pydantic, so the server can use it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class WindowRecord(BaseModel):
    """One line of metrics/windows.jsonl: the metrics of one window of env steps.

    Episode fields are null when no episode ended in the window. Backends add fields of their
    own (PPO: losses, `updates`, and evaluation results on checkpoint windows).
    """

    model_config = ConfigDict(extra="allow")

    window_id: int = Field(description="0-based index of the window in the run.")
    window_complete: bool = Field(
        description="True in windows.jsonl (the window covers its whole grid cell); false only in a "
        "run's latest_window when the run stopped inside that window (its progress so far)."
    )
    env_steps_start: int = Field(description="Env steps of the run before this window.")
    env_steps_end: int = Field(description="Env steps of the run at the end of this window.")
    env_steps_in_window: int = Field(description="Env steps in this window (end - start).")
    env_steps_total: int = Field(description="Same as env_steps_end; the W&B step.")
    ticks_in_window: int = Field(description="Game ticks that passed in this window's env steps.")
    ticks_total: int = Field(description="Game ticks of the run at the end of this window.")
    episodes: int = Field(description="Episodes that ended in this window.")
    return_mean: float | None = Field(description="Mean episode return.")
    return_min: float | None = Field(description="Lowest episode return.")
    return_max: float | None = Field(description="Highest episode return.")
    length_mean: float | None = Field(description="Mean episode length in env steps.")
    length_ticks_mean: float | None = Field(description="Mean episode length in game ticks.")
    net_profit_mean: float | None = Field(description="Mean credits earned over the episode.")
    survival_rate: float | None = Field(description="Fraction of episodes the ship survived.")
    destroyed_rate: float | None = Field(description="Fraction of episodes that ended with the ship destroyed.")
    stranded_rate: float | None = Field(description="Fraction of episodes that ended with the ship stranded.")
    cash_out_rate: float | None = Field(description="Fraction of episodes that ended by cashing out.")
    pirate_encounters_mean: float | None = Field(description="Mean pirate encounters per episode.")
    value_lost_to_pirates_mean: float | None = Field(description="Mean cargo value lost to pirates per episode.")
    reward_per_step_mean: float = Field(description="Mean reward over the window's env steps.")
    invalid_action_rate: float = Field(description="Fraction of the window's env steps whose action was invalid.")
    action_fractions: dict[str, float] | None = Field(
        None,
        description="Share of the window's env steps that took each action family (travel, hold, ..., "
        "cash_out); null in runs made before it was recorded.",
    )
    sps: float | None = Field(description="Env steps per wall-clock second in this window.")
    elapsed_s: float = Field(description="Wall-clock seconds of training in the run up to the end of this window.")
    time: str = Field(description="UTC ISO-8601 time the window was closed.")
