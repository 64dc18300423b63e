"""The trainer log's size cap (copytruncate, owned by the trainer) and the service's tail reading."""

from __future__ import annotations

import asyncio
import sys

from app.trainer_log import follow_log, read_tail, read_tail_and_end
from trainer.logs import cap_log, logger, previous_part, trainer_logging


def test_cap_moves_the_log_aside_and_the_tail_spans_both_parts(tmp_path) -> None:
    log = tmp_path / "trainer.log"
    with open(log, "a") as f:  # an O_APPEND writer, as the trainer's stdout is
        f.write("".join(f"line {i}\n" for i in range(100)))
        f.flush()
        assert cap_log(log, max_bytes=200)
        f.write("after\n")
    assert log.read_text() == "after\n"
    assert previous_part(log).read_text().endswith("line 99\n")
    assert read_tail(log, 3) == "line 98\nline 99\nafter\n"
    assert not cap_log(log, max_bytes=200)


def test_tail_of_a_missing_log_is_empty(tmp_path) -> None:
    assert read_tail(tmp_path / "trainer.log", 10) == ""


def test_a_follow_goes_on_where_the_tail_ended_losing_and_repeating_nothing(tmp_path) -> None:
    log = tmp_path / "trainer.log"
    log.write_text("one\ntwo\n")
    tail, end = read_tail_and_end(log, 1)
    with open(log, "a") as f:  # written between the tail's read and the follow's start
        f.write("three\n")

    async def followed() -> bytes:
        return b"".join([chunk async for chunk in follow_log(log, tail, end, lambda: True)])

    assert asyncio.run(followed()) == b"two\nthree\n"


def _log_lines(count: int) -> None:
    for i in range(count):
        logger.info("record %04d %s", i, "x" * 60)


def test_the_trainer_caps_the_log_it_tees_into(tmp_path) -> None:
    log = tmp_path / "logs" / "trainer.log"
    with trainer_logging(log, max_bytes=4096):
        _log_lines(200)
    assert log.stat().st_size <= 4096 // 2 and previous_part(log).stat().st_size <= 4096 // 2 + 200
    assert log.read_text().splitlines()[-1].endswith("record 0199 " + "x" * 60)


def test_the_trainer_caps_the_log_its_stdout_is_redirected_to(tmp_path, monkeypatch) -> None:
    """As the launchers start it: stdout and stderr appended to logs/trainer.log."""
    log = tmp_path / "trainer.log"
    with open(log, "a") as redirected:
        monkeypatch.setattr(sys, "stdout", redirected)
        with trainer_logging(log, max_bytes=4096):
            _log_lines(200)
            redirected.write("a traceback on stderr\n")
            redirected.flush()
            _log_lines(1)
    assert log.stat().st_size <= 4096 // 2
    assert "a traceback on stderr" in read_tail(log, 3)
    assert "record 0199" in previous_part(log).read_text() + log.read_text()
