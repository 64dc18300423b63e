"""Checkpoint files: the format check on load, and retention (newest K, best-evaluated, pinned)."""

from __future__ import annotations

import json
import os
import pickle
import zipfile
import zlib

import numpy as np
import pytest
import torch

from tests.support import train
from trainer.checkpoint import (
    CHECKPOINT_FORMAT,
    READ_FORMATS,
    CheckpointError,
    checkpoints_to_prune,
    load_checkpoint,
    save_checkpoint,
)
from trainer.config import TrainConfig
from trainer.ppo import EVAL_FIELDS
from trainer.run_writer import BEST_CHECKPOINT_BY, RunWriter
from trainer.rundir import RunPaths, RunStatus, read_metadata, update_status

pytestmark = pytest.mark.usefixtures("warm_numba")  # these tests step the env in this process

RANDOM = ["--trainer-backend", "random", "--num-envs", "16", "--env-time-max", "300", "--window-env-steps", "200"]


def kept(paths: RunPaths) -> list[str]:
    return sorted(p.name for p in paths.checkpoints_dir.iterdir())


def test_a_checkpoint_round_trips(tmp_path):
    path = tmp_path / "ckpt_000000.pt"
    save_checkpoint(path, {"window_id": 0, "weights": torch.ones(2)})
    loaded = load_checkpoint(path)
    assert loaded["format"] == CHECKPOINT_FORMAT and torch.equal(loaded["weights"], torch.ones(2))


def test_a_checkpoint_without_tensors_is_a_file_torch_load_reads(tmp_path):
    """Written without torch, it is still what the format promises: torch.load(weights_only=True)
    gives the same values load_checkpoint does."""
    path = tmp_path / "ckpt_000003.pt"
    env = np.arange(12, dtype=np.int16).reshape(3, 4)
    state = {"window_id": 3, "env": {"ships": env}, "rng": [2**70, -1.5, None, True], "name": "é", "blob": b"\x00\xff"}
    save_checkpoint(path, state)
    loaded = load_checkpoint(path)
    by_torch = torch.load(path, weights_only=True)
    assert by_torch["format"] == loaded["format"] == CHECKPOINT_FORMAT
    assert loaded["rng"] == by_torch["rng"] == state["rng"]
    assert loaded["name"] == by_torch["name"] == "é" and loaded["blob"] == by_torch["blob"] == b"\x00\xff"
    assert np.array_equal(loaded["env"]["ships"], env) and loaded["env"]["ships"].dtype == env.dtype


def test_arrays_are_zip_members_beside_the_pickle_and_big_sparse_ones_are_deflated(tmp_path):
    path = tmp_path / "ckpt_000001.pt"
    dense = np.random.default_rng(0).random(50_000)
    sparse = np.zeros((400, 100), dtype=np.int64)
    sparse[::7, 3] = -1
    save_checkpoint(path, {"window_id": 1, "env": {"dense": dense, "sparse": sparse}, "weights": torch.ones(3)})
    with zipfile.ZipFile(path) as archive:
        members = {info.filename.split("/", 1)[1]: info for info in archive.infolist()}
        pickled = members["data.pkl"].file_size
    assert pickled < 4096  # the arrays are not inside the pickle
    assert members["arrays/0"].compress_type == zipfile.ZIP_STORED and members["arrays/0"].file_size == dense.nbytes
    assert members["arrays/1"].compress_type == zipfile.ZIP_DEFLATED
    assert members["arrays/1"].compress_size < sparse.nbytes // 20
    loaded = load_checkpoint(path)
    assert np.array_equal(loaded["env"]["dense"], dense) and np.array_equal(loaded["env"]["sparse"], sparse)
    assert loaded["env"]["sparse"].dtype == np.int64 and torch.equal(loaded["weights"], torch.ones(3))


def test_a_format_2_checkpoint_with_its_arrays_inside_the_pickle_still_loads(tmp_path):
    """Runs checkpointed before the arrays moved out of the pickle resume."""
    path = tmp_path / "ckpt_000002.pt"
    ships = np.arange(6, dtype=np.float32).reshape(2, 3)
    inline = {"__ndarray_zlib__": zlib.compress(ships.tobytes()), "dtype": ships.dtype.str, "shape": [2, 3]}
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"format": 2, "env": {"ships": inline}}, protocol=2))
        archive.writestr("archive/version", "3\n")
    loaded = load_checkpoint(path)
    assert loaded["format"] == 2 and np.array_equal(loaded["env"]["ships"], ships)


def test_a_checkpoint_whose_pickle_calls_a_foreign_function_is_refused(tmp_path):
    class Exploit:
        def __reduce__(self):
            return (os.system, ("echo owned",))

    path = tmp_path / "ckpt_000004.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"format": CHECKPOINT_FORMAT, "x": Exploit()}, protocol=2))
        archive.writestr("archive/version", "3\n")
    with pytest.raises(CheckpointError, match="ckpt_000004.pt"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    "write",
    [
        lambda path: torch.save({"format": min(READ_FORMATS) - 1, "window_id": 0}, path),
        lambda path: torch.save({"format": max(READ_FORMATS) + 1, "window_id": 0}, path),
        lambda path: torch.save({"window_id": 0}, path),
        lambda path: torch.save([1, 2, 3], path),
        lambda path: path.write_bytes(b"not a checkpoint"),
        lambda path: path.write_bytes(b""),
        lambda path: path.write_bytes(b"PK\x03\x04 a broken zip"),
    ],
)
def test_a_foreign_or_old_file_is_refused_naming_it(tmp_path, write):
    path = tmp_path / "ckpt_000007.pt"
    write(path)
    with pytest.raises(CheckpointError, match="ckpt_000007.pt") as exc:
        load_checkpoint(path)
    assert "format" in str(exc.value) or "not a checkpoint" in str(exc.value)


def test_retention_keeps_the_newest_and_the_protected():
    assert checkpoints_to_prune([0, 1, 2, 3, 4, 5], 2, set()) == [0, 1, 2, 3]
    assert checkpoints_to_prune([5, 0, 3, 1], 2, {0}) == [1]
    assert checkpoints_to_prune([0, 1], 5, set()) == []


def test_a_run_keeps_its_newest_checkpoints_and_the_pinned_ones(tmp_path):
    paths = RunPaths.of(tmp_path, "kept")
    assert train(tmp_path, "--run-id", "kept", *RANDOM, "--total-env-steps", "1600", "--keep-checkpoints", "3") == 0
    assert kept(paths) == ["ckpt_000005.pt", "ckpt_000006.pt", "ckpt_000007.pt"]
    meta = read_metadata(paths)
    assert meta.checkpoints_written == 8 and meta.latest_checkpoint.window_id == 7

    update_status(paths, RunStatus.completed, pinned_checkpoints=[5])  # as a replay writer would
    assert train(tmp_path, "--resume", str(paths.root), "--total-env-steps", "2400") == 0
    assert kept(paths) == ["ckpt_000005.pt", "ckpt_000009.pt", "ckpt_000010.pt", "ckpt_000011.pt"]


def test_pin_checkpoint_records_the_pin_in_the_metadata(tmp_path):
    paths = RunPaths.of(tmp_path, "pins")
    writer = RunWriter(paths, TrainConfig(total_env_steps=100))
    writer.start(resume=False)
    writer.pin_checkpoint(3)
    writer.pin_checkpoint(1)
    writer.pin_checkpoint(3)
    assert read_metadata(paths).pinned_checkpoints == [1, 3]


def test_the_best_evaluated_checkpoint_outlives_retention(tmp_path):
    assert BEST_CHECKPOINT_BY in EVAL_FIELDS
    paths = RunPaths.of(tmp_path, "best")
    argv = [
        "--run-id", "best", "--trainer-backend", "puffer_ppo", "--num-envs", "8", "--env-time-max", "60",
        "--window-env-steps", "128", "--total-env-steps", "768", "--ppo-rollout-steps", "16",
        "--ppo-hidden-sizes", "16", "--eval-episodes", "3", "--keep-checkpoints", "1", "--eval-replays", "0",
    ]  # fmt: skip
    assert train(tmp_path, *argv) == 0
    windows = [json.loads(line) for line in paths.windows.read_text().splitlines()]
    scores = [w[BEST_CHECKPOINT_BY] for w in windows]
    best = read_metadata(paths).best_checkpoint
    assert best.window_id == scores.index(max(scores)) and best.eval_net_profit_mean == max(scores)
    assert kept(paths) == sorted({f"ckpt_{best.window_id:06d}.pt", "ckpt_000005.pt"})


def test_a_resumed_run_refuses_a_checkpoint_of_another_format_by_name(tmp_path):
    paths = RunPaths.of(tmp_path, "old")
    assert train(tmp_path, "--run-id", "old", *RANDOM, "--total-env-steps", "400") == 0
    newest = paths.checkpoint(1)
    state = torch.load(newest, weights_only=True)
    unreadable = min(READ_FORMATS) - 1
    torch.save({**state, "format": unreadable}, newest)
    assert train(tmp_path, "--resume", str(paths.root), "--total-env-steps", "800") == 1
    meta = read_metadata(paths)
    assert meta.status == RunStatus.failed and meta.error.startswith("CheckpointError: ")
    assert "ckpt_000001.pt" in meta.error and f"format {unreadable}" in meta.error
