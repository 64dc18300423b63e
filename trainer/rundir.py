"""The run directory: the only contract between the trainer and the server.

    runs/<run_id>/
        config.json                  the resolved TrainConfig, written once
        run_metadata.json            live status, rewritten atomically
        metrics/windows.jsonl        one JSON object per window, appended whole-line
        checkpoints/ckpt_<id>.pt     torch.load(weights_only=True)-loadable, the state at a window's end
        checkpoints/resume_point.pt  the state of a run stopped inside a window, until the next checkpoint
        replays/replay-<window>-<k>.jsonl.gz  recorded evaluation episodes (trainer.replay_format)
        replay_index.json            every replay of the run, rewritten atomically
        logs/trainer.log             the trainer's stdout and stderr
        trainer.lock                 flock-ed exclusively while a trainer owns the run

This module is dependency-light (stdlib + pydantic) so the server can import it.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import secrets
import time
from collections.abc import Callable
from datetime import datetime, timezone
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO, Literal

from pydantic import BaseModel, ConfigDict, Field

from trainer.config import VectorBackend

RUN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_RUN_ID_RE = re.compile(RUN_ID_PATTERN)


class RunStatus(StrEnum):
    queued = "queued"
    starting = "starting"
    running = "running"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"
    interrupted = "interrupted"


class ErrorKind(StrEnum):
    """What kind of failure a run's `error` describes (null while it has none)."""

    exception = "exception"  # the trainer caught an error and wrote `failed` itself (exit 1)
    bad_config = "bad_config"  # the trainer refused its flags, config or run directory (exit 2)
    exit_code = "exit_code"  # the trainer exited without writing a final status
    killed = "killed"  # a signal killed the trainer before it wrote a final status
    interrupted = "interrupted"  # the trainer vanished; its exit status is unknown
    launch_failed = "launch_failed"  # the trainer process could not be started
    cancel_failed = "cancel_failed"  # a cancel could not signal or stop the trainer


TERMINAL_STATUSES = frozenset(
    {RunStatus.completed, RunStatus.failed, RunStatus.cancelled, RunStatus.interrupted}
)
# A terminal run may only go back to `queued`/`starting`, and only when it is resumed.
_ALLOWED_TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.queued: frozenset({RunStatus.starting, RunStatus.cancelled, RunStatus.failed}),
    RunStatus.starting: frozenset(
        {RunStatus.running, RunStatus.failed, RunStatus.cancelled, RunStatus.interrupted}
    ),
    RunStatus.running: frozenset(TERMINAL_STATUSES),
}


class InvalidTransition(ValueError):
    """A status change the lifecycle does not allow (e.g. leaving a terminal state)."""


def check_transition(old: RunStatus | None, new: RunStatus, *, resuming: bool = False) -> None:
    """Raise InvalidTransition unless `old -> new` is a legal status change.

    `None` means the run has no metadata yet. Resuming lets a terminal run restart.
    """
    if old is None or old == new:
        return
    if old in TERMINAL_STATUSES:
        if resuming and new in (RunStatus.queued, RunStatus.starting, RunStatus.running):
            return
        raise InvalidTransition(f"run is {old.value}; it cannot become {new.value}")
    if new not in _ALLOWED_TRANSITIONS[old]:
        raise InvalidTransition(f"a {old.value} run cannot become {new.value}")


def validate_run_id(run_id: str) -> str:
    """Return run_id if it is a safe directory name, else raise ValueError."""
    if not _RUN_ID_RE.fullmatch(run_id) or ".." in run_id:
        raise ValueError(f"invalid run id {run_id!r}: must match {RUN_ID_PATTERN} and not contain '..'")
    return run_id


def new_run_id() -> str:
    """A fresh run id, `<UTC %Y%m%dT%H%M%SZ>-<6 hex>` (the trainer's and the service's default)."""
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def utc_now() -> str:
    """The current UTC time as an ISO-8601 string with a `Z` suffix."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class LatestCheckpoint(BaseModel):
    window_id: int
    env_steps_total: int
    path: str
    created_at: str


class BestCheckpoint(BaseModel):
    """The checkpoint whose evaluation scored best; checkpoint retention never deletes it."""

    window_id: int
    eval_net_profit_mean: float


class Collapse(BaseModel):
    """The first window whose episodes shrank to a few steps: the policy learned to quit."""

    window_id: int
    env_steps: int
    length_mean: float
    cash_out_rate: float | None


# A window whose episodes average fewer decisions than this has collapsed (random play lasts
# ~22 steps, a miner thousands); with fewer episodes than COLLAPSE_MIN_EPISODES it is not judged.
COLLAPSE_LENGTH_STEPS = 3.0
COLLAPSE_MIN_EPISODES = 20


def collapse_of(record: dict[str, Any]) -> Collapse | None:
    """A Collapse if this window record shows one, else None."""
    length = record.get("length_mean")
    if length is None or record.get("episodes", 0) < COLLAPSE_MIN_EPISODES or length >= COLLAPSE_LENGTH_STEPS:
        return None
    return Collapse(
        window_id=record["window_id"],
        env_steps=record["env_steps_end"],
        length_mean=length,
        cash_out_rate=record.get("cash_out_rate"),
    )


class ReplayEntry(BaseModel):
    """One recorded evaluation episode, as replay_index.json and `latest_replay` list it."""

    run_id: str
    window_id: int
    replay_id: str
    path: str  # relative to the run directory
    checkpoint_path: str
    seed: int
    tags: list[str]
    return_: float = Field(alias="return")
    net_profit: float
    survival: bool
    steps: int
    ticks: int
    ended_by: str  # cash_out, destroyed, stranded or time_limit
    created_at: str

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class MilestoneReached(BaseModel):
    """The first window (or its evaluation) whose `metric` reached `threshold`."""

    metric: str
    threshold: float
    window_id: int
    env_steps: int
    value: float
    time: str


LaunchKind = Literal["fresh", "resume"]


class RunMetadata(BaseModel):
    """The contents of run_metadata.json. Paths are relative to the run directory.

    Fields this version does not know (written by another version) are kept as they are;
    `update_status` only writes the fields declared here.
    """

    model_config = ConfigDict(extra="allow")

    run_id: str
    status: RunStatus
    trainer_backend: str
    seed: int
    target_env_steps: int
    window_env_steps: int
    env_reward: str | None = None  # null in runs made before reward profiles existed (original)
    env_steps_total: int = 0
    ticks_total: int = 0
    episodes_total: int = 0
    windows_emitted: int = 0
    checkpoints_written: int = 0
    latest_window: dict[str, Any] | None = None
    latest_checkpoint: LatestCheckpoint | None = None
    best_checkpoint: BestCheckpoint | None = None
    pinned_checkpoints: list[int] = []
    latest_replay: ReplayEntry | None = None
    replay_index_path: str | None = None
    wandb_run_id: str | None = None
    wandb_run_url: str | None = None
    constellation_url: str | None = None
    collapse: Collapse | None = None
    milestones_reached: list[MilestoneReached] = []
    error: str | None = None
    error_kind: ErrorKind | None = None
    exit_code: int | None = None
    pid: int | None = None
    # Written by the service: when the run last entered the queue, and how its next start runs
    # the trainer (a new run, or `--resume`); each start's launcher and attempt number.
    queued_at: str | None = None
    launch: LaunchKind = "fresh"
    launcher: str | None = None
    launch_attempt: int = 0
    # Written by the trainer from `running` on: how it steps its envs and, for PPO, its learner.
    vector_backend: VectorBackend | None = None
    num_workers: int | None = None
    device: str | None = None
    policy_architecture: str | None = None
    policy_parameters: int | None = None
    created_at: str
    started_at: str | None = None
    updated_at: str
    finished_at: str | None = None
    config_path: str = "config.json"
    metrics_path: str = "metrics/windows.jsonl"
    checkpoints_dir: str = "checkpoints"
    log_path: str = "logs/trainer.log"


def config_fields(config: Any) -> dict[str, Any]:
    """The metadata fields that repeat the run's TrainConfig."""
    return {
        "trainer_backend": config.trainer_backend,
        "seed": config.seed,
        "target_env_steps": config.total_env_steps,
        "window_env_steps": config.window_env_steps,
        "env_reward": config.env_reward,
    }


class RunPaths:
    """Where each file of one run lives."""

    def __init__(self, run_dir: Path) -> None:
        self.root = Path(run_dir)

    @classmethod
    def of(cls, runs_root: Path, run_id: str) -> RunPaths:
        return cls(Path(runs_root) / validate_run_id(run_id))

    @property
    def run_id(self) -> str:
        return self.root.name

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def metadata(self) -> Path:
        return self.root / "run_metadata.json"

    @property
    def metrics_dir(self) -> Path:
        return self.root / "metrics"

    @property
    def windows(self) -> Path:
        return self.metrics_dir / "windows.jsonl"

    @property
    def checkpoints_dir(self) -> Path:
        return self.root / "checkpoints"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def log(self) -> Path:
        return self.logs_dir / "trainer.log"

    @property
    def lock(self) -> Path:
        return self.root / "trainer.lock"

    def checkpoint(self, window_id: int) -> Path:
        return self.checkpoints_dir / checkpoint_name(window_id)

    @property
    def resume_point(self) -> Path:
        return self.checkpoints_dir / "resume_point.pt"

    @property
    def replays_dir(self) -> Path:
        return self.root / "replays"

    def replay(self, replay_id: str) -> Path:
        return self.replays_dir / f"replay-{replay_id}.jsonl.gz"

    @property
    def replay_index(self) -> Path:
        return self.root / "replay_index.json"

    def make_dirs(self) -> None:
        for d in (self.metrics_dir, self.checkpoints_dir, self.logs_dir):
            d.mkdir(parents=True, exist_ok=True)


def checkpoint_name(window_id: int) -> str:
    return f"ckpt_{window_id:06d}.pt"


def replay_id_of(window_id: int, episode: int) -> str:
    """The id of the `episode`-th replay recorded at window `window_id`, e.g. `000012-00`."""
    return f"{window_id:06d}-{episode:02d}"


def replace_atomically(path: Path, write: Callable[[BinaryIO], object], *, fsync: bool) -> None:
    """Write `path` so that readers see either the old file or the new one, never a mix: `write`
    fills a temp file beside it (`.<name>.<pid>.tmp`), which is then renamed into place. With
    `fsync`, the data is on disk before the rename, so a machine crash leaves the old or the new
    file, not an empty one. A failed write removes the temp file and leaves `path` as it was."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON atomically and durably (`replace_atomically` with fsync)."""
    text = json.dumps(data, indent=2) + "\n"
    replace_atomically(path, lambda f: f.write(text.encode()), fsync=True)


def read_metadata(paths: RunPaths) -> RunMetadata:
    """Parse run_metadata.json (raises FileNotFoundError or pydantic.ValidationError)."""
    return RunMetadata.model_validate_json(paths.metadata.read_bytes())


def write_metadata(paths: RunPaths, meta: RunMetadata) -> None:
    write_json_atomic(paths.metadata, meta.model_dump(mode="json"))


def update_status(
    paths: RunPaths, new: RunStatus, *, resuming: bool = False, **changes: Any
) -> RunMetadata:
    """The single status writer: validate the transition and the `changes` (declared fields of
    RunMetadata only, TypeError otherwise), apply them, write atomically."""
    undeclared = set(changes) - set(RunMetadata.model_fields)
    if undeclared:
        raise TypeError(f"run_metadata.json has no field {', '.join(sorted(undeclared))}")
    meta = read_metadata(paths)
    check_transition(meta.status, new, resuming=resuming)
    now = utc_now()
    fields = {"status": new, "updated_at": now, **changes}
    if new in TERMINAL_STATUSES:
        fields.setdefault("finished_at", now)
    elif resuming:
        fields.setdefault("finished_at", None)
    updated = RunMetadata.model_validate({**meta.model_dump(), **fields})
    write_metadata(paths, updated)
    return updated


class JsonlAppender:
    """Appends one JSON object per line, each with a single write() and a flush.

    Its owner is the file's only writer: a last line without its newline (left by a writer
    killed mid-write) is cut off on opening, so the next record starts a line of its own.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        _cut_incomplete_line(path)
        self._file = open(path, "ab", buffering=0)

    def append(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n").encode()
        self._file.write(line)

    def close(self) -> None:
        self._file.close()


def _cut_incomplete_line(path: Path, chunk: int = 65536) -> None:
    """Truncate the file at `path`, if there is one, after its last newline."""
    try:
        file = open(path, "r+b")
    except FileNotFoundError:
        return
    with file:
        size = end = file.seek(0, os.SEEK_END)
        while end > 0:
            start = max(0, end - chunk)
            file.seek(start)
            newline = file.read(end - start).rfind(b"\n")
            if newline >= 0:
                end = start + newline + 1
                break
            end = start
        if end < size:
            file.truncate(end)


def read_complete_lines(path: Path, offset: int = 0) -> tuple[list[bytes], int]:
    """Read the whole lines after byte `offset`; return them and the offset after the last one.

    A trailing line without its newline is still being written and is left for next time.
    """
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n")
    if end < 0:
        return [], offset
    return data[: end + 1].splitlines(), offset + end + 1


class RunLock:
    """The exclusive flock a trainer holds on `trainer.lock` for as long as it owns the run."""

    def __init__(self, paths: RunPaths) -> None:
        self._path = paths.lock
        self._fd: int | None = None

    def acquire(self, timeout_s: float = 1.0) -> bool:
        """Take the lock; False if another process still holds it after `timeout_s`.

        The short retry covers a reader's momentary shared probe (`is_run_live`).
        """
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                time.sleep(0.02)
                continue
            self._fd = fd
            return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def is_run_live(paths: RunPaths) -> bool:
    """True if some process holds the run's trainer lock (checked without taking it for long)."""
    try:
        fd = os.open(paths.lock, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            return True
        raise
    finally:
        os.close(fd)
    return False
