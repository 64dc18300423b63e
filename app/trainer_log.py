"""Reading the trainer's log: its last lines (reaching into `trainer.log.1`), and a live follow.

The trainer caps the file itself (trainer.logs); a follow that sees the file shrink starts over
at its new beginning.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from trainer.logs import previous_part

FOLLOW_POLL_S = 0.25
READ_CHUNK = 64 * 1024


def read_tail(path: Path, lines: int, *, max_bytes: int = 1024 * 1024) -> str:
    """The last `lines` lines of the log (reaching into `trainer.log.1`), at most `max_bytes`."""
    kept: deque[bytes] = deque(maxlen=lines)
    for part in (previous_part(path), path):
        try:
            with open(part, "rb") as f:
                size = f.seek(0, os.SEEK_END)
                f.seek(max(0, size - max_bytes))
                data = f.read()
        except FileNotFoundError:
            continue
        kept.extend(data.splitlines(keepends=True))
    text = b"".join(kept)[-max_bytes:]
    return text.decode("utf-8", errors="replace")


async def follow_log(path: Path, first: str, over: Callable[[], bool]) -> AsyncIterator[bytes]:
    """`first`, then whatever is appended to the log, until `over()` and the log is drained."""
    yield first.encode()
    try:
        offset = path.stat().st_size
    except FileNotFoundError:
        offset = 0
    while True:
        finished = over()
        try:
            with open(path, "rb") as f:
                size = f.seek(0, os.SEEK_END)
                if size < offset:  # moved aside by the size cap: start over on the new file
                    offset = 0
                f.seek(offset)
                chunk = f.read(READ_CHUNK)
        except FileNotFoundError:
            chunk = b""
        if chunk:
            offset += len(chunk)
            yield chunk
        elif finished:
            return
        else:
            await asyncio.sleep(FOLLOW_POLL_S)
