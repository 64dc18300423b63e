"""Milestones: the first window (or evaluation) reaching each threshold, in run_metadata.json."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from tests.support import train
from trainer.cli import main
from trainer.config import TrainConfig
from trainer.env import RewardSpec
from trainer.evaluate import baseline_act, run_episodes
from trainer.milestones import MilestoneTracker
from trainer.replay_index import read_replay_index
from trainer.rundir import RunPaths, read_metadata

pytestmark = pytest.mark.usefixtures("warm_numba")  # these tests step the env in this process


def record(window_id: int, **metrics: float) -> dict:
    return {"window_id": window_id, "env_steps_end": 100 * (window_id + 1), **metrics}


def test_each_milestone_is_reached_once_by_the_first_window_at_its_threshold():
    tracker = MilestoneTracker(TrainConfig(milestones=["net_profit_mean:10", "net_profit_mean:20", "survival_rate:1"]))
    reached = []
    for k, (profit, survival) in enumerate([(5, 0.5), (12, None), (11, 1.0), (25, 1.0)]):
        reached += tracker.reached(record(k, net_profit_mean=profit, survival_rate=survival), reached)
    assert [(m.metric, m.threshold, m.window_id, m.value, m.env_steps) for m in reached] == [
        ("net_profit_mean", 10, 1, 12, 200),
        ("survival_rate", 1, 2, 1.0, 300),
        ("net_profit_mean", 20, 3, 25, 400),
    ]


def test_beating_greedy_compares_with_greedy_on_the_same_episodes():
    config = TrainConfig(eval_episodes=4, env_time_max=2000, milestones=["eval_net_profit_over_greedy:0"])
    greedy = run_episodes(baseline_act("greedy", config.eval_seed), 4, config.eval_seed, 2000, RewardSpec(**config.reward_kwargs()))
    greedy_mean = float(greedy.column("net_profit").mean())
    tracker = MilestoneTracker(config)
    assert tracker.reached(record(0, eval_net_profit_mean=greedy_mean - 1), []) == []
    assert tracker.reached(record(1, net_profit_mean=10**9), []) == []  # no evaluation, no comparison
    [beaten] = tracker.reached(record(2, eval_net_profit_mean=greedy_mean + 5), [])
    assert beaten.value == pytest.approx(5)


@pytest.mark.parametrize("bad", ["net_profit:5", "net_profit_mean", "net_profit_mean:x", "survival_rate:inf"])
def test_a_bad_milestone_is_refused_naming_it(bad, capsys):
    with pytest.raises(ValidationError, match="milestones"):
        TrainConfig(milestones=[bad])
    with pytest.raises(SystemExit) as exit_info:
        main(["--print-config", "--milestones", bad])
    assert exit_info.value.code == 2 and "--milestones" in capsys.readouterr().err


def test_a_run_records_its_milestones_and_tags_the_replays_of_their_window(tmp_path):
    argv = [
        "--run-id", "m", "--trainer-backend", "random", "--num-envs", "16", "--env-time-max", "300",
        "--window-env-steps", "200", "--total-env-steps", "1000", "--eval-replays", "1",
        "--milestones", "return_mean:-0.5", "return_mean:-0.02", "return_mean:0", "survival_rate:0.5", "return_mean:1000",
    ]  # fmt: skip
    assert train(tmp_path, *argv) == 0
    paths = RunPaths(tmp_path / "m")
    windows = [json.loads(line) for line in paths.windows.read_text().splitlines()]
    reached = read_metadata(paths).milestones_reached
    assert reached  # return_mean:-0.5 at least
    for milestone in reached:
        values = [w[milestone.metric] for w in windows]
        first = next(k for k, v in enumerate(values) if v is not None and v >= milestone.threshold)
        assert (milestone.window_id, milestone.value) == (first, values[first])
        assert milestone.env_steps == windows[first]["env_steps_end"]
    unreached = [(m, t) for m, t in [("return_mean", -0.5), ("return_mean", -0.02), ("return_mean", 0.0), ("survival_rate", 0.5)]
                 if not any(w[m] is not None and w[m] >= t for w in windows)]  # fmt: skip
    assert len(reached) == 4 - len(unreached)
    entries = read_replay_index(paths).replays
    assert [e.window_id for e in entries] == list(range(5))
    assert any(t.startswith("milestone:") for e in entries for t in e.tags)
    for entry in entries:
        expected = {f"milestone:{m.metric}:{m.threshold:g}" for m in reached if m.window_id == entry.window_id}
        assert {t for t in entry.tags if t.startswith("milestone:")} == expected
