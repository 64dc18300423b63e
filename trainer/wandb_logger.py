"""Weights & Biases adapter. Imported only when `wandb_mode` is not `disabled`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import wandb

from trainer.config import TrainConfig


class WandbLogger:
    """One W&B run per training run, keyed by the run id so a resumed run continues it."""

    def __init__(self, config: TrainConfig, run_dir: Path) -> None:
        self.run_id = run_dir.name
        self.run = wandb.init(
            project=config.wandb_project,
            id=self.run_id,
            name=self.run_id,
            resume="allow",
            dir=run_dir,
            mode=config.wandb_mode,
            config=config.model_dump(mode="json"),
        )

    @property
    def url(self) -> str | None:
        """The run's page, unknown (None) for an offline run."""
        return None if self.run.offline else self.run.url

    def log_window(self, record: dict[str, Any]) -> None:
        """Log a window record's numbers at step = env_steps_total (null fields left out; the
        action fractions as `actions/<family>`)."""
        numbers = {k: v for k, v in record.items() if isinstance(v, (int, float))}
        numbers.update({f"actions/{k}": v for k, v in (record.get("action_fractions") or {}).items()})
        self.run.log(numbers, step=record["env_steps_total"])

    def log_checkpoint(self, path: Path, window_id: int) -> None:
        """Log a checkpoint as a `model` artifact aliased `latest` and `window-<id>`."""
        artifact = wandb.Artifact(f"model-{self.run_id}", type="model", metadata={"window_id": window_id})
        artifact.add_file(str(path))
        self.run.log_artifact(artifact, aliases=["latest", f"window-{window_id}"])

    def finish(self, summary: dict[str, Any], exit_code: int) -> None:
        """Write the final summary and close the run (a non-zero exit code marks it failed)."""
        self.run.summary.update(summary)
        self.run.finish(exit_code=exit_code)
