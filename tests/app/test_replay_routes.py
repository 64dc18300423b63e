"""The replay routes over a real run's replays: list filters and paging, one replay, frames
pages equal to the file's frames, the file read once for all pages; the server stays torch-free."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import in_process_client
from trainer.cli import main
from trainer.replay import read_replay
from trainer.replay_index import read_replay_index
from trainer.rundir import RunPaths


@pytest.fixture(scope="module")
def runs(tmp_path_factory, warm_numba: None) -> Path:
    root = tmp_path_factory.mktemp("runs")
    argv = [
        "--run-root", str(root), "--no-log-to-run-dir", "--wandb-mode", "disabled", "--run-id", "r",
        "--trainer-backend", "random", "--num-envs", "16", "--env-time-max", "400", "--window-env-steps", "200",
        "--total-env-steps", "600", "--eval-replays", "2",
    ]  # fmt: skip
    assert main(argv) == 0
    return root


def test_replays_are_listed_filtered_and_paged(runs: Path) -> None:
    index = read_replay_index(RunPaths(runs / "r")).replays
    with in_process_client(runs) as client:
        first = client.get("/runs/r/replays", params={"limit": 4}).json()
        rest = client.get("/runs/r/replays", params={"offset": first["next_offset"], "limit": 4}).json()
        window_1 = client.get("/runs/r/replays", params={"window_id": 1}).json()
        best = client.get("/runs/r/replays", params={"tag": "best_so_far"}).json()
        missing_run = client.get("/runs/nope/replays")
        bad_window = client.get("/runs/r/replays", params={"window_id": "1_0"})
        link = client.get("/runs/r").json()["links"]["replays"]
    assert first["total"] == 6 and len(first["items"]) == 4
    assert first["items"] + rest["items"] == [e.model_dump(mode="json") for e in index]
    assert rest["next_offset"] is None
    assert [e["replay_id"] for e in window_1["items"]] == ["000001-00", "000001-01"]
    assert best["items"] and all("best_so_far" in e["tags"] for e in best["items"])
    assert missing_run.status_code == 404
    assert bad_window.status_code == 422 and "window_id" in bad_window.text
    assert link == "/runs/r/replays"


def test_frames_pages_are_the_files_frames_read_once(runs: Path) -> None:
    paths = RunPaths(runs / "r")
    entry = read_replay_index(paths).replays[-1]
    replay = read_replay(paths.root / entry.path)
    with in_process_client(runs) as client:
        detail = client.get(f"/runs/r/replays/{entry.replay_id}").json()
        frames, offset = [], 0
        while offset is not None:  # pages of 7 frames
            page = client.get(detail["frames_url"], params={"offset": offset, "limit": 7}).json()
            assert page["total"] == len(replay.frames)
            frames += page["frames"]
            offset = page["next_offset"]
        reads = client.app.state.replay_cache.reads
        unknown = client.get("/runs/r/replays/000099-00")
        malformed = client.get("/runs/r/replays/..%2Fconfig")
        too_many = client.get(detail["frames_url"], params={"limit": 100_000})
    assert detail["header"]["nodes"] == replay.header["nodes"] and detail["end"] == replay.end
    assert detail["frames_total"] == entry.steps and detail["entry"]["replay_id"] == entry.replay_id
    assert frames == replay.frames
    assert reads == 1
    assert unknown.status_code == 404 and "000099-00" in unknown.text
    assert malformed.status_code in (404, 422)
    assert too_many.status_code == 422 and "limit" in too_many.text


def test_a_changed_replay_file_is_read_again(runs: Path, tmp_path: Path) -> None:
    copy = tmp_path / "runs"
    shutil.copytree(runs, copy)
    paths = RunPaths(copy / "r")
    [first, second] = read_replay_index(paths).replays[:2]
    with in_process_client(copy) as client:
        before = client.get(f"/runs/r/replays/{first.replay_id}/frames", params={"limit": 1}).json()["frames"]
        shutil.copy(paths.root / second.path, paths.root / first.path)
        after = client.get(f"/runs/r/replays/{first.replay_id}/frames", params={"limit": 1}).json()["frames"]
    assert before == read_replay(runs / "r" / first.path).frames[:1]
    assert after == read_replay(paths.root / second.path).frames[:1] and after != before


def test_the_server_imports_neither_torch_nor_numba_nor_numpy() -> None:
    code = (
        "import sys, app.main, app.api.routes.replays, app.follower; "
        "print(sorted(m for m in ('torch', 'numba', 'numpy', 'pufferlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
