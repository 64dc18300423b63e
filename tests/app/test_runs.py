"""Runs end to end against a real server and real trainer subprocesses: launch and follow,
reconnect, metrics, checkpoints, logs, idempotent POST, cancel, queue order, resume, delete. The
tests share one server, but the queue test, which needs an idle one, has its own."""

from __future__ import annotations

import json

import httpx

from tests.serving import Server, wait_for
from tests.support import LONG, SHORT, file_windows, follow, run_status, sse_events, window_ids


def _launch(client: httpx.Client, run_id: str, config: dict) -> dict:
    response = client.post("/runs", json={**config, "run_id": run_id})
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/runs/{run_id}"
    return response.json()


def _wait_status(client: httpx.Client, run_id: str, *statuses: str, timeout: float = 60) -> str:
    return wait_for(lambda: (s := run_status(client, run_id)) in statuses and s, timeout, f"{run_id} to be {statuses}")


def _wait_windows(client: httpx.Client, run_id: str, count: int) -> None:
    wait_for(lambda: client.get(f"/runs/{run_id}").json()["windows_emitted"] >= count, 60, f"{count} windows of {run_id}")


def test_follow_a_run_to_end_gets_every_window_once_in_order(module_server: Server) -> None:
    with module_server.client() as client:
        created = _launch(client, "follow-me", SHORT)
        assert created["status"] in ("queued", "starting")
        events = follow(client, "follow-me")
        run = client.get("/runs/follow-me").json()
    assert events[0].event == "snapshot" and events[0].json()["run_id"] == "follow-me"
    assert events[-1].event == "end" and events[-1].json() == {"status": "completed"}
    written = file_windows(module_server.runs_root, "follow-me")
    assert window_ids(events) == [w["window_id"] for w in written] == list(range(len(written)))
    assert [json.loads(e.data) for e in events if e.event == "window"] == written
    assert "completed" in [e.json()["status"] for e in events if e.event == "status"]
    assert run["status"] == "completed" and run["latest_window"] == written[-1]
    assert run["latest_checkpoint"]["window_id"] == written[-1]["window_id"]


def test_reconnect_with_last_event_id_has_no_gap_and_no_duplicate(module_server: Server) -> None:
    with module_server.client() as client:
        _launch(client, "reconnect", {**SHORT, "total_env_steps": 40_000})
        first = follow(client, "reconnect", stop_after_windows=2)
        last_id = first[-1].id
        rest = follow(client, "reconnect", headers={"Last-Event-ID": last_id})
        again = client.get("/runs/reconnect/events", headers={"Last-Event-ID": str(window_ids(rest)[-1])})
        tail = client.get("/runs/reconnect/events", params={"after": 0})
    received = window_ids(first) + window_ids(rest)
    assert received == [w["window_id"] for w in file_windows(module_server.runs_root, "reconnect")]
    assert rest[0].event == "snapshot" and rest[-1].event == "end"
    assert again.status_code == 204
    assert tail.status_code == 200 and "id: 0\r\n" not in tail.text and "id: 1\r\n" in tail.text


def test_metrics_checkpoints_and_logs_of_a_finished_run(module_server: Server) -> None:
    with module_server.client() as client:
        _launch(client, "artifacts", SHORT)
        _wait_status(client, "artifacts", "completed")
        written = file_windows(module_server.runs_root, "artifacts")
        ndjson = client.get("/runs/artifacts/metrics")
        assert ndjson.headers["content-type"].startswith("application/x-ndjson")
        assert [json.loads(line) for line in ndjson.text.splitlines()] == written
        page = client.get("/runs/artifacts/metrics", params={"after": 0, "limit": 1},
                          headers={"Accept": "application/json"}).json()
        assert page == {"items": [written[1]], "next_after": 1}
        checkpoints = client.get("/runs/artifacts/checkpoints").json()["items"]
        assert checkpoints and checkpoints[-1]["window_id"] == written[-1]["window_id"]
        download = client.get(checkpoints[-1]["url"])
        path = module_server.runs_root / "artifacts" / "checkpoints" / f"ckpt_{written[-1]['window_id']:06d}.pt"
        assert download.status_code == 200 and download.content == path.read_bytes()
        assert client.get("/runs/artifacts/checkpoints/999999").status_code == 404
        log = client.get("/runs/artifacts/logs", params={"tail": 5})
        assert log.status_code == 200 and 0 < len(log.text.splitlines()) <= 5
        followed = client.get("/runs/artifacts/logs", params={"follow": "true", "tail": 1})
        assert followed.status_code == 200 and followed.text


def test_repeated_post_is_idempotent_and_a_different_config_conflicts(module_server: Server) -> None:
    with module_server.client() as client:
        first = _launch(client, "same", SHORT)
        retry = client.post("/runs", json={**SHORT, "run_id": "same"})
        assert retry.status_code == 200 and retry.json()["run_id"] == "same"
        assert retry.json()["created_at"] == first["created_at"]
        other = client.post("/runs", json={**SHORT, "run_id": "same", "seed": 7})
        assert other.status_code == 409 and "different config" in other.json()["detail"]
        _wait_status(client, "same", "completed")
        assert client.post("/runs", json={**SHORT, "run_id": "same"}).status_code == 200


def test_cancel_a_running_run_then_conflicts_on_terminal_runs(module_server: Server) -> None:
    with module_server.client() as client:
        _launch(client, "stop-me", LONG)
        _wait_windows(client, "stop-me", 1)
        assert client.delete("/runs/stop-me").status_code == 409
        cancelled = client.post("/runs/stop-me/cancel")
        assert cancelled.status_code == 202
        _wait_status(client, "stop-me", "cancelled", timeout=30)
        assert client.post("/runs/stop-me/cancel").status_code == 409
        events = follow(client, "stop-me")
        assert events[-1].json() == {"status": "cancelled"}
        assert client.delete("/runs/stop-me").status_code == 204
        assert client.get("/runs/stop-me").status_code == 404
    assert not (module_server.runs_root / "stop-me").exists()


def test_queue_runs_one_at_a_time_in_order_and_cancel_a_queued_run(server: Server) -> None:
    with server.client() as client:
        _launch(client, "q1", LONG)
        second = _launch(client, "q2", SHORT)
        third = _launch(client, "q3", SHORT)
        fourth = _launch(client, "q4", SHORT)
        assert (second["status"], second["queue_position"]) == ("queued", 1)
        assert (third["queue_position"], fourth["queue_position"]) == (2, 3)
        listed = {r["run_id"]: r for r in client.get("/runs", params={"status": "queued"}).json()["items"]}
        assert set(listed) == {"q2", "q3", "q4"}
        cancelled = client.post("/runs/q3/cancel")
        assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelled"
        assert client.get("/runs/q4").json()["queue_position"] == 2
        with client.stream("GET", "/runs/q2/events") as stream:
            _wait_windows(client, "q1", 1)
            assert client.post("/runs/q1/cancel").status_code == 202
            statuses = [e.json()["status"] for e in sse_events(stream) if e.event in ("status", "end")]
        _wait_status(client, "q4", "completed")
        runs = {r["run_id"]: r for r in client.get("/runs").json()["items"]}
    assert statuses[:2] == ["starting", "running"] and statuses[-1] == "completed"
    assert runs["q3"]["status"] == "cancelled" and runs["q3"]["started_at"] is None
    assert runs["q1"]["finished_at"] <= runs["q2"]["started_at"]
    assert runs["q2"]["finished_at"] <= runs["q4"]["started_at"]


def test_resume_a_cancelled_run_continues_its_windows(module_server: Server) -> None:
    with module_server.client() as client:
        _launch(client, "again", {**SHORT, "total_env_steps": 200_000})
        _wait_windows(client, "again", 2)
        client.post("/runs/again/cancel")
        _wait_status(client, "again", "cancelled")
        assert client.post("/runs/again/resume").status_code == 202
        assert client.post("/runs/again/resume").status_code == 409
        events = follow(client, "again", headers={"Last-Event-ID": "0"})
        assert events[-1].json() == {"status": "completed"}
        assert client.post("/runs/again/resume").status_code == 409
    ids = [w["window_id"] for w in file_windows(module_server.runs_root, "again")]
    assert ids == list(range(len(ids)))
    assert window_ids(events) == ids[1:]
