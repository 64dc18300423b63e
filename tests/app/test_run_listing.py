"""The run resource and the run list: corrupt metadata, progress and ETA, the config route,
sort and `q`, and what OpenAPI says about them."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from app.models import CONFLICT, NOT_FOUND, RunResource, run_resource
from app.store import RunStore
from tests.support import SHORT, hand_made_run, in_process_client
from trainer.rundir import RunStatus, read_metadata


def _corrupt(runs_root: Path, run_id: str) -> Path:
    paths = hand_made_run(runs_root, run_id, RunStatus.completed)
    paths.metadata.write_text("{\n")  # echo '{' > runs/<id>/run_metadata.json
    return paths.root


def test_a_corrupt_run_is_listed_shown_and_deletable(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    hand_made_run(runs, "fine", RunStatus.completed)
    junk = _corrupt(runs, "junk")
    with in_process_client(runs) as client:
        listed = {item["run_id"]: item for item in client.get("/runs").json()["items"]}
        shown = client.get("/runs/junk")
        only_corrupt = client.get("/runs", params={"status": "corrupt"}).json()["items"]
        sub_resource = client.get("/runs/junk/metrics")
        health = client.get("/health").json()
        deleted = client.delete("/runs/junk")
        after = [item["run_id"] for item in client.get("/runs").json()["items"]]
    assert listed["junk"]["status"] == "corrupt" and listed["fine"]["status"] == "completed"
    assert "run_metadata.json" in listed["junk"]["error"]
    assert shown.status_code == 200 and shown.json()["status"] == "corrupt"
    assert [item["run_id"] for item in only_corrupt] == ["junk"]
    assert sub_resource.status_code == 409 and "corrupt" in sub_resource.json()["detail"]
    assert health["runs_by_status"]["corrupt"] == 1
    assert deleted.status_code == 204 and not junk.exists() and after == ["fine"]


def test_a_corrupt_file_is_warned_about_once_per_change(tmp_path: Path, caplog) -> None:
    runs = tmp_path / "runs"
    junk = _corrupt(runs, "junk")
    store = RunStore(runs, full_recheck_s=0.0)
    with caplog.at_level(logging.WARNING, logger="app.store"):
        for _ in range(5):
            store.page(limit=10)
            store.lookup("junk")
        assert len(caplog.records) == 1
        (junk / "run_metadata.json").write_text('{"run_id": "junk"}\n')
        for _ in range(5):
            store.page(limit=10)
        assert len(caplog.records) == 2
    assert "junk" in caplog.records[0].getMessage()


def test_metadata_whose_latest_window_is_not_a_window_record_is_corrupt(tmp_path: Path) -> None:
    hand_made_run(tmp_path / "runs", "odd", RunStatus.completed, latest_window={"window_id": 0})
    with in_process_client(tmp_path / "runs") as client:
        run = client.get("/runs/odd").json()
    assert run["status"] == "corrupt" and "latest_window" in run["error"]


def test_progress_and_eta_come_from_the_counters_and_the_latest_sps(tmp_path: Path) -> None:
    paths = hand_made_run(tmp_path / "runs", "r", RunStatus.running, windows=1,
                          config={**SHORT, "total_env_steps": 10_000, "window_env_steps": 2000})
    meta = read_metadata(paths)
    running = run_resource(meta, None)
    assert running.progress == pytest.approx(0.2)
    assert running.eta_s == pytest.approx(8000 / 1000.0)  # the window's sps is 1000
    done = run_resource(meta.model_copy(update={"status": RunStatus.completed, "env_steps_total": 10_000}), None)
    assert done.progress == 1.0 and done.eta_s is None
    assert run_resource(meta.model_copy(update={"latest_window": None}), None).eta_s is None


def test_the_config_route_returns_config_json(tmp_path: Path) -> None:
    paths = hand_made_run(tmp_path / "runs", "r", RunStatus.completed)
    with in_process_client(tmp_path / "runs") as client:
        config = client.get("/runs/r/config")
        link = client.get("/runs/r").json()["links"]["config"]
        paths.config.unlink()
        missing = client.get("/runs/r/config")
    assert config.status_code == 200 and config.json()["total_env_steps"] == SHORT["total_env_steps"]
    assert link == "/runs/r/config"
    assert missing.status_code == 404 and "config.json" in missing.json()["detail"]


def test_runs_sort_by_any_field_both_ways_and_filter_by_id_prefix(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    created = ["2030-01-01T00:00:03.000Z", "2030-01-01T00:00:01.000Z", "2030-01-01T00:00:02.000Z"]
    updated = ["2030-01-02T00:00:01.000Z", "2030-01-02T00:00:03.000Z", "2030-01-02T00:00:02.000Z"]
    for run_id, created_at, updated_at in zip(["exp-b", "exp-a", "other"], created, updated, strict=True):
        hand_made_run(runs, run_id, RunStatus.completed, created_at=created_at, updated_at=updated_at)
    with in_process_client(runs) as client:
        def ids(**params) -> list[str]:
            seen, cursor = [], None
            while True:  # page by one, so cursors are exercised for every sort
                page = {"limit": 1, **({"cursor": cursor} if cursor else {})}
                body = client.get("/runs", params={**params, **page}).json()
                seen += [item["run_id"] for item in body["items"]]
                if (cursor := body["next_cursor"]) is None:
                    return seen

        assert ids() == ["exp-b", "other", "exp-a"]
        assert ids(sort="created_at") == ["exp-a", "other", "exp-b"]
        assert ids(sort="-updated_at") == ["exp-a", "other", "exp-b"]
        assert ids(sort="run_id") == ["exp-a", "exp-b", "other"]
        assert ids(sort="-run_id", q="exp-") == ["exp-b", "exp-a"]
        assert client.get("/runs", params={"sort": "seed"}).status_code == 422


def test_openapi_describes_the_run_resource_window_records_and_errors(tmp_path: Path) -> None:
    with in_process_client(tmp_path / "runs") as client:
        schema = client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    undescribed = [name for name, prop in components["RunResource"]["properties"].items() if "description" not in prop]
    assert undescribed == []
    assert set(RunResource.model_fields) == set(components["RunResource"]["properties"])
    assert "WindowRecord" in components
    assert components["MetricsPage"]["properties"]["items"]["items"] == {"$ref": "#/components/schemas/WindowRecord"}
    post_runs = schema["paths"]["/runs"]["post"]
    assert {"401", "403", "409", "413", "415", "422"} <= set(post_runs["responses"])
    assert "window_env_steps" in post_runs["description"] and "total_env_steps" in post_runs["description"]
    assert {"401", "403", "415"} <= set(schema["paths"]["/runs/{run_id}/cancel"]["post"]["responses"])
    assert "401" in schema["paths"]["/runs/{run_id}/events"]["get"]["responses"]
    assert "/runs/{run_id}/config" in schema["paths"] and "/auth/sse-token" in schema["paths"]


def test_every_route_of_a_run_documents_the_shared_404_and_its_409s(tmp_path: Path) -> None:
    with in_process_client(tmp_path / "runs") as client:
        schema = client.get("/openapi.json").json()
    not_found = {**NOT_FOUND[404], "model": None}
    conflict = {**CONFLICT[409], "model": None}
    for path, operations in schema["paths"].items():
        if not path.startswith("/runs/{run_id}"):
            continue
        for method, operation in operations.items():
            responses = operation["responses"]
            assert responses["404"]["description"] == not_found["description"], (method, path)
            if "409" in responses:
                assert responses["409"]["description"] == conflict["description"], (method, path)


def test_a_run_route_maps_the_domain_errors_to_404_and_409(tmp_path: Path) -> None:
    runs_root = tmp_path / "runs"
    hand_made_run(runs_root, "r", RunStatus.completed)
    (runs_root / "r" / "config.json").write_text("{not json")
    with in_process_client(runs_root) as client:
        missing = client.get("/runs/nope/config")
        unreadable = client.get("/runs/r/config")
        (runs_root / "r" / "config.json").unlink()
        gone = client.get("/runs/r/config")
    assert missing.status_code == 404 and missing.json()["detail"] == "no run nope"
    assert unreadable.status_code == 409 and "config.json is not JSON" in unreadable.json()["detail"]
    assert gone.status_code == 404 and gone.json()["detail"] == "run r has no config.json"


def test_list_runs_newest_first_with_cursor_and_filters(tmp_path: Path) -> None:
    """Runs posted to the API (the first started by a fake launcher, the rest queued behind it)."""
    with in_process_client(tmp_path / "runs") as client:
        for index in range(5):
            assert client.post("/runs", json={**SHORT, "seed": index, "run_id": f"list-{index}"}).status_code == 201
        client.post("/runs/list-4/cancel")
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = client.get("/runs", params=params).json()
            seen += [r["run_id"] for r in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        cancelled = client.get("/runs", params={"status": "cancelled"}).json()["items"]
        ppo = client.get("/runs", params={"backend": "puffer_ppo"}).json()["items"]
    assert seen == [f"list-{index}" for index in reversed(range(5))]
    assert [r["run_id"] for r in cancelled] == ["list-4"]
    assert ppo == []
