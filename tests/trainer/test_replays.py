"""Evaluation replays: the recorded frames against the env, the run directory's replay files,
index and metadata, and the text rendering."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests.support import train
from trainer.config import TrainConfig
from trainer.env import ProspectorEnv, RewardSpec
from trainer.evaluate import baseline_act, checkpoint_act, evaluation_seeds, run_episodes
from trainer.replay import main as replay_main
from trainer.replay import read_replay, write_replay
from trainer.replay_index import read_replay_index
from trainer.replay_record import ReplayObserver, record_episodes
from trainer.rundir import RunPaths, read_metadata
from trainer.run_writer import pins_checkpoint

pytestmark = pytest.mark.usefixtures("warm_numba")  # these tests step the env in this process

RANDOM = [
    "--trainer-backend", "random", "--num-envs", "16", "--env-time-max", "300", "--window-env-steps", "200",
    "--total-env-steps", "800", "--eval-replays", "1",
]  # fmt: skip
SEED = 7


@pytest.fixture(scope="module")
def greedy_replays(tmp_path_factory):
    """Three greedy episodes recorded, written and read back, and the evaluation of the same."""
    episodes = record_episodes(baseline_act("greedy", SEED), 3, SEED, 3000, RewardSpec(), "spec", {"run_id": "r"})
    folder = tmp_path_factory.mktemp("replays")
    replays = []
    for k, episode in enumerate(episodes):
        write_replay(folder / f"{k}.jsonl.gz", episode.header, episode.frames, episode.end())
        replays.append(read_replay(folder / f"{k}.jsonl.gz"))
    evaluation = run_episodes(baseline_act("greedy", SEED), 3, SEED, 3000, RewardSpec(), "spec")
    return replays, evaluation


def test_frames_round_trip_to_the_evaluation_statistics(greedy_replays):
    replays, evaluation = greedy_replays
    for k, replay in enumerate(replays):
        frames = replay.frames
        assert len(frames) == evaluation.column("length")[k]
        assert frames[-1]["tick"] == evaluation.column("ticks")[k]
        assert sum(f["reward"] for f in frames) == pytest.approx(evaluation.column("return")[k], abs=1e-4 * len(frames))
        assert frames[-1]["state"]["net_profit"] == pytest.approx(evaluation.column("net_profit")[k], abs=0.01)
        assert [f["step"] for f in frames] == list(range(1, len(frames) + 1))
        assert sum(f["dt"] for f in frames) == frames[-1]["tick"]
        assert not any(f["terminated"] or f["truncated"] for f in frames[:-1])
        assert frames[-1]["terminated"] or frames[-1]["truncated"]
        # Credits change only by sales and purchases: the events account for the net profit.
        events = [e for f in frames for e in f["events"]]
        earned = sum(e["credits"] for e in events if e["kind"] == "sale")
        spent = sum(e["credits"] for e in events if e["kind"] == "purchase")
        assert earned - spent == pytest.approx(frames[-1]["state"]["credits"], abs=0.01 * len(events) + 0.01)
        assert replay.end["stats"]["net_profit"] == evaluation.column("net_profit")[k]
    assert any(e["kind"] == "sale" for r in replays for f in r.frames for e in f["events"])


def test_replayed_actions_reproduce_every_frame(greedy_replays, tmp_path):
    replays, _ = greedy_replays
    for replay in replays:
        env = ProspectorEnv(num_envs=1, time_max=replay.header["time_max"], autoreset=False)
        observer = ReplayObserver({"run_id": "r"})
        env.start_episodes(np.array([replay.header["seed"]], dtype=np.uint64))
        observer.start(env, np.array([replay.header["seed"]], dtype=np.uint64))
        for frame in replay.frames:
            actions = np.array([frame["action"]], dtype=np.int32)
            active = ~env.state.done
            env.step(actions)
            observer.step(env, actions, active)
        observer.finish(env)
        [again] = observer.episodes
        write_replay(tmp_path / "again.jsonl.gz", again.header, again.frames, again.end())
        reread = read_replay(tmp_path / "again.jsonl.gz")
        assert (reread.header, reread.frames, reread.end) == (replay.header, replay.frames, replay.end)


def test_header_draws_the_world(greedy_replays):
    replays, _ = greedy_replays
    header = replays[0].header
    ids = {node["id"] for node in header["nodes"]}
    assert header["nodes"][0]["type"] == "station" and header["nodes"][0]["hops"] == 0
    assert all(edge["from"] in ids and edge["to"] in ids and edge["time"] >= 1 for edge in header["edges"])
    assert len({(n["x"], n["y"]) for n in header["nodes"]}) == len(header["nodes"])  # no two nodes drawn alike
    assert header["seed"] == int(evaluation_seeds(SEED, 1)[0])


def test_a_run_records_replays_at_each_checkpoint(tmp_path, capsys):
    assert train(tmp_path, *RANDOM, "--run-id", "r", "--keep-checkpoints", "1") == 0
    paths = RunPaths(tmp_path / "r")
    index = read_replay_index(paths)
    meta = read_metadata(paths)
    assert [e.window_id for e in index.replays] == [0, 1, 2, 3]
    assert meta.latest_replay == index.replays[-1]
    assert meta.replay_index_path == "replay_index.json"
    assert sorted(p.name for p in paths.replays_dir.iterdir()) == [f"replay-00000{w}-00.jsonl.gz" for w in range(4)]
    notable = {e.window_id for e in index.replays if pins_checkpoint(e)}
    assert 0 in notable and set(meta.pinned_checkpoints) == notable
    for entry in index.replays:
        # --keep-checkpoints 1 keeps the newest, and pins the checkpoints of notable replays
        assert (paths.root / entry.checkpoint_path).exists() == (entry.window_id in notable | {3})
        replay = read_replay(paths.root / entry.path)
        assert len(replay.frames) == entry.steps and replay.frames[-1]["tick"] == entry.ticks
        assert "every_window" in entry.tags
    best = [e.net_profit for e in index.replays if "best_so_far" in e.tags]
    assert best == sorted(best) and index.replays[0].tags.count("best_so_far") == 1
    capsys.readouterr()
    assert replay_main([str(paths.root / index.replays[-1].path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == index.replays[-1].steps + 2 and lines[1].startswith("tick ")


def test_random_runs_record_no_replays_by_default(tmp_path):
    argv = [a for a in RANDOM if a not in ("--eval-replays", "1")]
    assert train(tmp_path, *argv, "--run-id", "r") == 0
    paths = RunPaths(tmp_path / "r")
    assert not paths.replays_dir.exists() and not paths.replay_index.exists()
    assert read_metadata(paths).latest_replay is None


KILLER = """
import os, signal, sys
import trainer.replay_writer as writer
from trainer.cli import main

def killing(real):
    def write(*args):
        real(*args)
        if {condition}:
            os.kill(os.getpid(), signal.SIGKILL)
    return write

writer.{function} = killing(writer.{function})
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("point", ["file", "index"])
def test_index_and_metadata_agree_after_a_kill_mid_replay(tmp_path, point):
    """A trainer killed -9 after a replay file (or the index) is written but before the
    metadata points at it: the resumed run repairs and completes both."""
    function, condition = {
        "file": ("write_replay", '"-000002-" in str(args[0])'),
        "index": ("write_replay_index", "any(entry.window_id == 2 for entry in args[1].replays)"),
    }[point]
    script = textwrap.dedent(KILLER).format(function=function, condition=condition)
    argv = ["--run-root", str(tmp_path), "--no-log-to-run-dir", "--wandb-mode", "disabled", *RANDOM, "--run-id", "r"]
    killed = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, timeout=240)
    assert killed.returncode == -9, killed.stderr.decode()[-2000:]
    paths = RunPaths(tmp_path / "r")
    before = read_metadata(paths)
    assert before.latest_replay.window_id == 1 and 2 in before.pinned_checkpoints
    assert train(tmp_path, "--resume", str(paths.root)) == 0
    index = read_replay_index(paths)
    meta = read_metadata(paths)
    assert [e.window_id for e in index.replays] == [0, 1, 2, 3]
    assert sorted(paths.root / e.path for e in index.replays) == sorted(paths.replays_dir.iterdir())
    assert meta.latest_replay == index.replays[-1]
    assert all((paths.root / e.checkpoint_path).exists() for e in index.replays if pins_checkpoint(e))


def test_a_ppo_run_replays_its_checkpoints_policy(tmp_path):
    """PPO records one replay per checkpoint by default, played by that checkpoint's policy."""
    argv = [
        "--run-id", "p", "--trainer-backend", "puffer_ppo", "--num-envs", "8", "--env-time-max", "120",
        "--window-env-steps", "256", "--total-env-steps", "512", "--ppo-rollout-steps", "16",
        "--ppo-hidden-sizes", "16", "--eval-mode", "sample",
    ]  # fmt: skip
    assert train(tmp_path, *argv) == 0
    paths = RunPaths(tmp_path / "p")
    index = read_replay_index(paths)
    assert [e.window_id for e in index.replays] == [0, 1]
    config = TrainConfig.model_validate_json(paths.config.read_bytes(), context={"limits": None})
    for entry in index.replays:
        make_act, observation, _ = checkpoint_act(paths.root / entry.checkpoint_path, "sample", config.eval_seed)
        [again] = record_episodes(
            make_act, 1, config.eval_seed, config.env_time_max, RewardSpec(**config.reward_kwargs()), observation, {}
        )
        assert [f["action"] for f in again.frames] == [f["action"] for f in read_replay(paths.root / entry.path).frames]
