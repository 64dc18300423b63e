"""replay_index.json: every replay of a run, in the order they were recorded.

Rewritten atomically after each replay file is in place, so every entry names a whole file.
Dependency-light (stdlib + pydantic) so the server can import it.
"""

from __future__ import annotations

from pydantic import BaseModel

from trainer.rundir import ReplayEntry, RunPaths, write_json_atomic

REPLAY_INDEX_SCHEMA = 1


class ReplayIndex(BaseModel):
    """The contents of replay_index.json."""

    schema_version: int = REPLAY_INDEX_SCHEMA
    run_id: str
    replays: list[ReplayEntry] = []

    def windows(self) -> set[int]:
        """The windows that have replays."""
        return {entry.window_id for entry in self.replays}

    def find(self, replay_id: str) -> ReplayEntry | None:
        return next((entry for entry in self.replays if entry.replay_id == replay_id), None)


def read_replay_index(paths: RunPaths) -> ReplayIndex:
    """The run's replay index (empty when it has none; raises pydantic.ValidationError)."""
    try:
        data = paths.replay_index.read_bytes()
    except FileNotFoundError:
        return ReplayIndex(run_id=paths.run_id)
    return ReplayIndex.model_validate_json(data)


def write_replay_index(paths: RunPaths, index: ReplayIndex) -> None:
    write_json_atomic(paths.replay_index, index.model_dump(mode="json"))
