"""Records a checkpoint's evaluation replays into the run directory.

Order of writes, so that a kill -9 anywhere leaves a consistent run: the checkpoint is pinned
(run_metadata.json; unpinned at the end unless a replay is notable), each replay file is written whole (temp file + rename), then
replay_index.json is rewritten with the new entries, then the metadata points at the newest.
`reconcile` repairs what a killed trainer left: files no entry names are deleted, entries
whose file is gone are dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from trainer.config import TrainConfig
from trainer.env import RewardSpec
from trainer.evaluate import ActFn
from trainer.logs import logger
from trainer.replay import write_replay
from trainer.replay_index import ReplayIndex, read_replay_index, write_replay_index
from trainer.replay_record import RecordedEpisode, record_episodes
from trainer.rundir import ReplayEntry, RunPaths, replay_id_of, utc_now

EVERY_WINDOW = "every_window"
BEST_SO_FAR = "best_so_far"
MILESTONE_TAG = "milestone:"  # + <metric>:<threshold>


class ReplayWriter:
    """The run's replay files and replay_index.json."""

    def __init__(self, paths: RunPaths, config: TrainConfig) -> None:
        self.paths = paths
        self.config = config
        self.index = read_replay_index(paths)

    def reconcile(self) -> ReplayIndex:
        """Make replays/ and the index agree after a killed trainer; return the index."""
        named = {self.paths.root / entry.path for entry in self.index.replays}
        if self.paths.replays_dir.is_dir():
            for path in self.paths.replays_dir.iterdir():
                if path not in named:
                    logger.info("deleting %s: no replay_index.json entry names it", path.name)
                    path.unlink()
        kept = [entry for entry in self.index.replays if (self.paths.root / entry.path).exists()]
        if len(kept) != len(self.index.replays) or not self.paths.replay_index.exists():
            self.index = self.index.model_copy(update={"replays": kept})
            write_replay_index(self.paths, self.index)
        return self.index

    def record(
        self, window_id: int, checkpoint_path: str, make_act: Callable[[int], ActFn], tags: Sequence[str] = ()
    ) -> list[ReplayEntry]:
        """Play the checkpoint's replays (eval_replays held-out episodes), write them and index them."""
        c = self.config
        ids = [replay_id_of(window_id, k) for k in range(c.eval_replays)]
        header = {"run_id": self.paths.run_id, "window_id": window_id, "checkpoint_path": checkpoint_path}
        episodes = record_episodes(
            make_act, c.eval_replays, c.eval_seed, c.env_time_max, RewardSpec(**c.reward_kwargs()),
            c.env_observation, header,
        )  # fmt: skip
        best = max((entry.net_profit for entry in self.index.replays), default=None)
        entries = []
        for replay_id, episode in zip(ids, episodes):
            episode.header["replay_id"] = replay_id
            path = self.paths.replay(replay_id)
            write_replay(path, episode.header, episode.frames, episode.end())
            net_profit = episode.stats["net_profit"]
            entry_tags = [EVERY_WINDOW, *tags]
            if best is None or net_profit > best:
                entry_tags.append(BEST_SO_FAR)
                best = net_profit
            entries.append(self._entry(window_id, replay_id, checkpoint_path, episode, entry_tags))
        self.index = self.index.model_copy(update={"replays": [*self.index.replays, *entries]})
        write_replay_index(self.paths, self.index)
        return entries

    def _entry(
        self, window_id: int, replay_id: str, checkpoint_path: str, episode: RecordedEpisode, tags: list[str]
    ) -> ReplayEntry:
        stats = episode.stats
        return ReplayEntry(
            run_id=self.paths.run_id,
            window_id=window_id,
            replay_id=replay_id,
            path=str(self.paths.replay(replay_id).relative_to(self.paths.root)),
            checkpoint_path=checkpoint_path,
            seed=episode.header["seed"],
            tags=tags,
            return_=stats["return"],
            net_profit=stats["net_profit"],
            survival=bool(stats["survival"]),
            steps=len(episode.frames),
            ticks=int(stats["ticks"]),
            ended_by=episode.ended_by,
            created_at=utc_now(),
        )
