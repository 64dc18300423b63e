"""The trainer log's size cap (copytruncate) and tail reading."""

from __future__ import annotations

from app.trainer_log import cap_log, previous_part, read_tail


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
