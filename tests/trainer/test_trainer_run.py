"""Whole random-backend runs of `python -m trainer` against the run-directory contract:
completion, SIGTERM, SIGKILL, failure and resume. The CLI runs in-process, but for the runs that
are signalled or whose stdout a launcher redirects: those are real subprocesses."""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from tests.support import trainer_argv, windows_of, without_timing
from trainer.cli import main as trainer_main
from trainer.config import TrainConfig
from trainer.rundir import RunMetadata, RunPaths, RunStatus, is_run_live, read_metadata
from trainer.windows import WINDOW_FIELDS

SMALL = ["--num-envs", "16", "--env-time-max", "300", "--wandb-mode", "disabled"]
ENDLESS = [*SMALL, "--total-env-steps", "1000000000", "--window-env-steps", "500"]

pytestmark = pytest.mark.usefixtures("warm_numba")


def run_trainer(run_root: Path, *argv: str) -> int:
    """`python -m trainer --run-root run_root *argv` in this process; its exit status."""
    return trainer_main(["--run-root", str(run_root), *argv])


def start_and_wait_for_windows(run_root: Path, run_id: str, count: int) -> tuple[subprocess.Popen, RunPaths]:
    proc = subprocess.Popen(
        trainer_argv(run_root, "--run-id", run_id, *ENDLESS),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    paths = RunPaths.of(run_root, run_id)
    deadline = time.monotonic() + 300  # a cold numba cache compiles the env first
    while not (paths.windows.exists() and paths.windows.read_bytes().count(b"\n") >= count):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"trainer did not write {count} windows: {proc.communicate()[1]}")
        time.sleep(0.05)
    return proc, paths


def test_readme_random_run_leaves_the_contracted_run_directory(tmp_path):
    code = run_trainer(
        tmp_path,
        "--run-id",
        "readme",
        "--trainer-backend",
        "random",
        "--total-env-steps",
        "6000",
        "--window-env-steps",
        "2000",
        "--wandb-mode",
        "disabled",
        "--num-envs",
        "256",
    )
    assert code == 0
    paths = RunPaths.of(tmp_path, "readme")
    config = TrainConfig.model_validate_json(paths.config.read_text())
    assert (config.total_env_steps, config.window_env_steps, config.num_envs) == (6000, 2000, 256)

    meta = read_metadata(paths)
    assert meta.status == RunStatus.completed and meta.exit_code == 0 and meta.error is None
    assert (meta.env_steps_total, meta.target_env_steps, meta.windows_emitted) == (6000, 6000, 3)
    assert meta.started_at and meta.finished_at and meta.trainer_backend == "random"

    windows = windows_of(paths)
    assert [list(w) for w in windows] == [list(WINDOW_FIELDS)] * 3
    assert [(w["window_id"], w["env_steps_start"], w["env_steps_end"]) for w in windows] == [
        (0, 0, 2000),
        (1, 2000, 4000),
        (2, 4000, 6000),
    ]
    assert all(w["window_complete"] and w["env_steps_in_window"] == 2000 for w in windows)
    assert windows[-1]["ticks_total"] == sum(w["ticks_in_window"] for w in windows) == meta.ticks_total
    assert meta.latest_window == windows[-1]

    # One per window by default.
    assert sorted(p.name for p in paths.checkpoints_dir.iterdir()) == [f"ckpt_00000{k}.pt" for k in range(3)]
    assert meta.checkpoints_written == 3
    assert (
        meta.latest_checkpoint.window_id == 2 and meta.latest_checkpoint.path == "checkpoints/ckpt_000002.pt"
    )
    ckpt = torch.load(paths.root / meta.latest_checkpoint.path, weights_only=True)
    assert (ckpt["window_id"], ckpt["env_steps_total"], ckpt["trainer_backend"]) == (2, 6000, "random")
    assert {"env", "backend", "windows", "config"} <= set(ckpt)
    assert "window 2 | env steps 6000" in paths.log.read_text()
    assert not is_run_live(paths)


def test_episodes_end_and_are_counted_once_and_checkpoints_follow_their_interval(tmp_path):
    code = run_trainer(
        tmp_path,
        "--run-id",
        "eps",
        *SMALL,
        "--total-env-steps",
        "6100",
        "--window-env-steps",
        "1000",
        "--checkpoint-every-windows",
        "2",
    )
    assert code == 0
    paths = RunPaths.of(tmp_path, "eps")
    assert sorted(p.name for p in paths.checkpoints_dir.iterdir()) == [
        "ckpt_000001.pt",
        "ckpt_000003.pt",
        "ckpt_000005.pt",
        "ckpt_000006.pt",
    ]
    windows = windows_of(paths)
    meta = read_metadata(paths)
    assert sum(w["episodes"] for w in windows) == meta.episodes_total > 0
    # The last 100 steps get a window of their own, with the final checkpoint.
    assert [w["env_steps_in_window"] for w in windows] == [1000] * 6 + [100]
    assert all(w["window_complete"] for w in windows) and windows[-1]["env_steps_end"] == 6100
    for w in windows:
        if w["episodes"]:
            assert w["return_min"] <= w["return_mean"] <= w["return_max"]
            assert 0.0 <= w["survival_rate"] <= 1.0
        else:
            assert w["return_mean"] is None


def test_a_resumed_run_continues_exactly_where_it_stopped(tmp_path):
    args = [*SMALL, "--window-env-steps", "500"]  # 500 is not a multiple of 16: windows split batches
    assert run_trainer(tmp_path, "--run-id", "whole", *args, "--total-env-steps", "4000") == 0
    assert run_trainer(tmp_path, "--run-id", "parts", *args, "--total-env-steps", "2000") == 0
    assert run_trainer(tmp_path, "--resume", str(tmp_path / "parts"), "--total-env-steps", "4000") == 0
    whole, parts = RunPaths.of(tmp_path, "whole"), RunPaths.of(tmp_path, "parts")
    assert without_timing(windows_of(parts)) == without_timing(windows_of(whole))
    meta = read_metadata(parts)
    assert meta.status == RunStatus.completed and meta.env_steps_total == 4000


def test_sigterm_keeps_whole_windows_and_the_stop_state_and_resume_fills_the_grid(tmp_path):
    proc, paths = start_and_wait_for_windows(tmp_path, "term", 2)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    meta = read_metadata(paths)
    assert meta.status == RunStatus.cancelled and meta.exit_code == 128 + signal.SIGTERM
    windows = windows_of(paths)
    assert [(w["env_steps_start"], w["env_steps_end"]) for w in windows] == [
        (500 * k, 500 * (k + 1)) for k in range(len(windows))
    ]
    assert meta.windows_emitted == len(windows) and meta.latest_checkpoint.window_id == len(windows) - 1
    # The window the stop fell in is not in the file: its progress is in the metadata, and the
    # state at the stop is saved: in the resume point, or in the newest checkpoint when the
    # stop came right after it.
    if meta.env_steps_total > windows[-1]["env_steps_end"]:
        partial = meta.latest_window
        assert partial["window_complete"] is False and partial["window_id"] == len(windows)
        assert partial["env_steps_start"] == windows[-1]["env_steps_end"]
        assert partial["env_steps_end"] == meta.env_steps_total
    else:
        assert meta.latest_window == windows[-1]
    resume_point = paths.checkpoints_dir / "resume_point.pt"
    saved = resume_point if resume_point.exists() else paths.root / meta.latest_checkpoint.path
    assert torch.load(saved, weights_only=True)["env_steps_total"] == meta.env_steps_total
    assert not is_run_live(paths)

    total = str(500 * (len(windows) + 2))
    assert run_trainer(tmp_path, "--run-id", "whole", *SMALL, "--window-env-steps", "500", "--total-env-steps", total) == 0
    assert run_trainer(tmp_path, "--resume", str(paths.root), "--total-env-steps", total) == 0
    assert without_timing(windows_of(paths)) == without_timing(windows_of(RunPaths.of(tmp_path, "whole")))
    assert not (paths.checkpoints_dir / "resume_point.pt").exists()


def test_sigkill_leaves_valid_metadata_and_whole_lines_and_the_run_resumes(tmp_path):
    proc, paths = start_and_wait_for_windows(tmp_path, "killed", 3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    meta = RunMetadata.model_validate_json(paths.metadata.read_bytes())
    assert meta.status == RunStatus.running and not is_run_live(paths)
    windows = windows_of(paths)
    assert [w["window_id"] for w in windows] == list(range(len(windows)))

    done = str(len(windows) * 500 + 1500)
    assert run_trainer(tmp_path, "--resume", str(paths.root), "--total-env-steps", done) == 0
    assert run_trainer(tmp_path, "--run-id", "whole", *SMALL, "--window-env-steps", "500", "--total-env-steps", done) == 0
    assert without_timing(windows_of(paths)) == without_timing(windows_of(RunPaths.of(tmp_path, "whole")))
    assert read_metadata(paths).status == RunStatus.completed
    assert not [p for p in paths.root.rglob("*") if p.name.endswith(".tmp")]


def test_an_exception_marks_the_run_failed_with_the_traceback_in_the_log(tmp_path):
    assert run_trainer(tmp_path, "--run-id", "bad", *SMALL, "--total-env-steps", "1000", "--window-env-steps", "500") == 0
    paths = RunPaths.of(tmp_path, "bad")
    paths.checkpoint(1).write_bytes(b"not a checkpoint")
    assert run_trainer(tmp_path, "--resume", str(paths.root), "--total-env-steps", "2000") == 1
    meta = read_metadata(paths)
    assert meta.status == RunStatus.failed and meta.exit_code == 1
    assert "ckpt_000001.pt is not a checkpoint" in meta.error
    assert "Traceback" in paths.log.read_text()


def test_a_launcher_redirecting_stdout_into_the_log_gets_each_line_once(tmp_path):
    paths = RunPaths.of(tmp_path, "redirected")
    paths.make_dirs()
    with open(paths.log, "ab") as log:
        proc = subprocess.run(
            trainer_argv(
                tmp_path,
                "--run-id",
                "redirected",
                *SMALL,
                "--total-env-steps",
                "1000",
                "--window-env-steps",
                "500",
            ),
            stdout=log,
            stderr=log,
            timeout=240,
        )
    assert proc.returncode == 0
    text = paths.log.read_text()
    assert text.count("window 0 |") == 1 and text.count("window 1 |") == 1
