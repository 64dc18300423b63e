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
    return read_tail_and_end(path, lines, max_bytes=max_bytes)[0]


def read_tail_and_end(path: Path, lines: int, *, max_bytes: int = 1024 * 1024) -> tuple[str, int]:
    """`read_tail`, and the offset in the log up to which it read (where a follow goes on)."""
    kept: deque[bytes] = deque(maxlen=lines)
    end = 0
    for part in (previous_part(path), path):
        try:
            with open(part, "rb") as f:
                size = f.seek(0, os.SEEK_END)
                f.seek(max(0, size - max_bytes))
                data = f.read()
                end = f.tell()
        except FileNotFoundError:
            end = 0
            continue
        kept.extend(data.splitlines(keepends=True))
    text = b"".join(kept)[-max_bytes:]
    return text.decode("utf-8", errors="replace"), end


async def follow_log(path: Path, first: str, offset: int, over: Callable[[], bool]) -> AsyncIterator[bytes]:
    """`first`, then whatever the log holds from `offset` on, until `over()` and the log is drained."""
    yield first.encode()
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
