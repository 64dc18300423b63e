"""The trainer's log: console lines, teed into the run's size-capped `logs/trainer.log`."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from logging.handlers import RotatingFileHandler
from pathlib import Path

LOG_MAX_BYTES = 10 * 2**20
LOG_FORMAT = "%(asctime)s %(levelname)s %(message)s"

logger = logging.getLogger("trainer")


def stdout_is(path: Path) -> bool:
    """True if this process's stdout already writes to `path` (a launcher redirected it there)."""
    try:
        out = os.fstat(sys.stdout.fileno())
        target = os.stat(path)
    except (OSError, ValueError):  # includes io.UnsupportedOperation (no real fd)
        return False
    return (out.st_dev, out.st_ino) == (target.st_dev, target.st_ino)


@contextmanager
def trainer_logging(log_path: Path | None) -> Iterator[logging.Logger]:
    """Log the `trainer` logger to stdout and, unless stdout is already that file, to `log_path`.

    The file rolls over to `trainer.log.1` at LOG_MAX_BYTES, so the run keeps at most twice
    that and the newest lines (a failure's traceback) are always in `trainer.log`.
    """
    formatter = logging.Formatter(LOG_FORMAT)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stdout)]
    if log_path is not None and not stdout_is(log_path):
        log_path.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(RotatingFileHandler(log_path, maxBytes=LOG_MAX_BYTES, backupCount=1))
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
