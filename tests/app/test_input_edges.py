"""Input that used to give a 500 or be misread: a lone surrogate, a deeply nested cursor,
`Last-Event-ID` and `after` written oddly; and HEAD on every GET route."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from app.store import InvalidCursor, decode_cursor
from tests.support import hand_made_run, in_process_client
from trainer.rundir import RunStatus


def test_a_lone_surrogate_in_run_id_is_422_naming_it(tmp_path: Path) -> None:
    with in_process_client(tmp_path / "runs") as client:
        body = client.post("/runs", content=b'{"run_id": "\\ud800"}', headers={"Content-Type": "application/json"})
        path = client.get("/runs/%ED%A0%80")
    assert body.status_code == 422
    assert ["body", "run_id"] in [error["loc"] for error in body.json()["detail"]]
    assert path.status_code == 422


def test_non_finite_numbers_are_422_not_500(tmp_path: Path) -> None:
    with in_process_client(tmp_path / "runs") as client:
        response = client.post("/runs", content=b'{"total_env_steps": 1e400}',
                               headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert ["body", "total_env_steps"] in [error["loc"] for error in response.json()["detail"]]


def test_a_deeply_nested_cursor_is_422(tmp_path: Path) -> None:
    nested = base64.urlsafe_b64encode(b"[" * 3000).decode().rstrip("=")
    for run_id in ("a", "b"):
        hand_made_run(tmp_path / "runs", run_id, RunStatus.completed)
    with in_process_client(tmp_path / "runs") as client:
        response = client.get("/runs", params={"cursor": nested})
        cursor = client.get("/runs", params={"limit": 1}).json()["next_cursor"]
        other_sort = client.get("/runs", params={"cursor": cursor, "sort": "run_id"})
    assert response.status_code == 422 and "cursor" in response.text
    assert other_sort.status_code == 422 and "sort" in other_sort.json()["detail"]
    with pytest.raises(InvalidCursor):  # however long a cursor the route lets through
        decode_cursor(nested, "-created_at")


@pytest.mark.parametrize("value", ["1_0", "-100", "+1", " 1", "1e3", "0x1", "99999999999999999999"])
def test_last_event_id_and_after_take_plain_window_ids_only(tmp_path: Path, value: str) -> None:
    hand_made_run(tmp_path / "runs", "done", RunStatus.completed, windows=12)
    with in_process_client(tmp_path / "runs") as client:
        header = client.get("/runs/done/events", headers={"Last-Event-ID": value})
        query = client.get("/runs/done/events", params={"after": value})
        metrics = client.get("/runs/done/metrics", params={"after": value})
    for response in (header, query, metrics):
        assert response.status_code == 422, (value, response.status_code)
    assert "Last-Event-ID" in header.text
    assert "after" in query.text and "after" in metrics.text


def test_last_event_id_resumes_after_that_window(tmp_path: Path) -> None:
    hand_made_run(tmp_path / "runs", "done", RunStatus.completed, windows=12)
    with in_process_client(tmp_path / "runs") as client:
        response = client.get("/runs/done/events", headers={"Last-Event-ID": "9"})
    assert response.status_code == 200
    assert "id: 10\r\n" in response.text and "id: 9\r\n" not in response.text


@pytest.mark.parametrize(
    "path",
    ["/health", "/runs", "/runs/done", "/runs/done/config", "/runs/done/metrics", "/runs/done/events",
     "/runs/done/checkpoints", "/runs/done/logs", "/runs/live/events", "/runs/live/logs?follow=true",
     "/docs", "/openapi.json"],
)
def test_head_on_get_routes_is_the_get_without_its_body(tmp_path: Path, path: str) -> None:
    hand_made_run(tmp_path / "runs", "done", RunStatus.completed, windows=2)
    hand_made_run(tmp_path / "runs", "live", RunStatus.running, windows=1)
    with in_process_client(tmp_path / "runs") as client:
        get = client.get(path.replace("/live/", "/done/"))
        head = client.head(path)
    assert head.status_code == get.status_code == 200, (head.status_code, get.status_code)
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    if "content-length" in get.headers and "/live/" not in path:
        assert head.headers["content-length"] == get.headers["content-length"]


def test_head_on_an_unknown_run_is_404(tmp_path: Path) -> None:
    with in_process_client(tmp_path / "runs") as client:
        assert client.head("/runs/nope").status_code == 404
