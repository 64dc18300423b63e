"""The trainer's log: console lines, teed into the run's `logs/trainer.log`, and the log's size cap.

The trainer is the only owner of the cap, whoever started it: after each log record it moves
the file aside once it passes half of `max_bytes`, the way logrotate's copytruncate does (copy
it to `trainer.log.1`, then truncate it). Every writer of the file (the log handler, or a
launcher's stdout/stderr redirect) appends through O_APPEND, so its next write lands at the new
end. A run keeps at most `max_bytes` across the two files, plus what is written between two
records (e.g. a traceback printed to stderr), and the newest lines are always in `trainer.log`.
This module is light (stdlib and trainer.rundir), so the server can read logs with it.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from trainer.rundir import replace_atomically

LOG_MAX_BYTES = 10 * 2**20
MIN_LOG_MAX_BYTES = 4096
LOG_FORMAT = "%(asctime)s %(levelname)s %(message)s"

logger = logging.getLogger("trainer")


def previous_part(path: Path) -> Path:
    """Where the cap moves the log's older part: `trainer.log.1`."""
    return path.with_name(path.name + ".1")


def cap_log(path: Path, max_bytes: int) -> bool:
    """Move the log aside once it passes half the cap; True if it did."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return False
    if size <= max_bytes // 2:
        return False
    with open(path, "rb") as log:
        replace_atomically(previous_part(path), lambda backup: shutil.copyfileobj(log, backup), fsync=False)
    os.truncate(path, 0)
    return True


class LogCap(logging.Handler):
    """Applies `cap_log` to the log file after each record (added after the handlers that write it)."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        super().__init__()
        self.path = path
        self.max_bytes = max_bytes

    def emit(self, record: logging.LogRecord) -> None:
        try:
            cap_log(self.path, self.max_bytes)
        except OSError:
            self.handleError(record)


def stdout_is(path: Path) -> bool:
    """True if this process's stdout already writes to `path` (a launcher redirected it there)."""
    try:
        out = os.fstat(sys.stdout.fileno())
        target = os.stat(path)
    except (OSError, ValueError):  # includes io.UnsupportedOperation (no real fd)
        return False
    return (out.st_dev, out.st_ino) == (target.st_dev, target.st_ino)


@contextmanager
def trainer_logging(log_path: Path | None, max_bytes: int = LOG_MAX_BYTES) -> Iterator[logging.Logger]:
    """Log the `trainer` logger to stdout and, unless stdout is already that file, to `log_path`;
    keep `log_path` under `max_bytes` either way (see the module docstring)."""
    formatter = logging.Formatter(LOG_FORMAT)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stdout)]
    if log_path is not None:
        if not stdout_is(log_path):
            log_path.parent.mkdir(parents=True, exist_ok=True)
            handlers.append(logging.FileHandler(log_path))  # mode "a": O_APPEND
        handlers.append(LogCap(log_path, max_bytes))
    for handler in handlers:
        handler.setFormatter(formatter)
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield logger
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
            handler.close()
