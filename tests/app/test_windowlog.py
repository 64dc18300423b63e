"""WindowLog: whole lines only, offsets index, reads after an id and up to an offset."""

from __future__ import annotations

import json

from app.windowlog import WindowLog, WindowLogCache


def _append(path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


def _line(window_id: int) -> bytes:
    return json.dumps({"window_id": window_id, "x": window_id * 2}).encode() + b"\n"


def test_a_line_without_its_newline_waits(tmp_path) -> None:
    path = tmp_path / "windows.jsonl"
    log = WindowLog(path)
    assert log.refresh() == []
    _append(path, _line(0) + _line(1)[:-5])
    assert [w for w, _ in log.refresh()] == [0]
    _append(path, _line(1)[-5:])
    assert [w for w, _ in log.refresh()] == [1]
    assert log.end == path.stat().st_size


def test_after_seeks_to_the_window_and_respects_limit_and_upto(tmp_path) -> None:
    path = tmp_path / "windows.jsonl"
    _append(path, b"".join(_line(i) for i in range(5)))
    log = WindowLog(path)
    log.refresh()
    upto = log.end
    _append(path, _line(5))
    log.refresh()
    assert [w for w, _ in log.after(1)] == [2, 3, 4, 5]
    assert [w for w, _ in log.after(1, limit=2)] == [2, 3]
    assert [w for w, _ in log.after(2, upto=upto)] == [3, 4]
    assert log.after(5) == []
    assert [json.loads(raw) for _, raw in log.after(-1, limit=1)] == [{"window_id": 0, "x": 0}]


def test_bad_lines_are_skipped(tmp_path) -> None:
    path = tmp_path / "windows.jsonl"
    _append(path, _line(0) + b"not json\n" + _line(0) + _line(1))
    log = WindowLog(path)
    assert [w for w, _ in log.refresh()] == [0, 1]
    assert [w for w, _ in log.after(-1)] == [0, 1]


def test_cache_notices_a_recreated_file(tmp_path) -> None:
    path = tmp_path / "windows.jsonl"
    _append(path, _line(0) + _line(1))
    cache = WindowLogCache(capacity=1)
    assert cache.get(path).last_id() == 1
    path.unlink()
    _append(path, _line(0))
    assert cache.get(path).last_id() == 0
