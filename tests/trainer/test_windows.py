"""WindowAccumulator: splitting batch steps into grid windows [k*W, min((k+1)*W, total))."""

import numpy as np
import pytest

import trainer.windows
from trainer.windows import EPISODE_FIELDS, WINDOW_FIELDS, StepClock, WindowAccumulator

STATS = (
    "return",
    "length",
    "ticks",
    "net_profit",
    "survival",
    "destroyed",
    "stranded",
    "cash_out",
    "pirate_encounters",
    "value_lost_to_pirates",
    "invalid_actions",
)
ENDLESS = 10**12  # a total no test reaches
FAMILIES = (("low", 0, 1), ("mid", 2, 2), ("high", 3, 5))


def make_steps(rng: np.random.Generator, num_envs: int, num_steps: int) -> list[dict]:
    """Random batch steps: rewards, ticks, invalid flags, finished envs and their stats."""
    steps = []
    for _ in range(num_steps):
        finished = np.flatnonzero(rng.random(num_envs) < 0.2)
        stats = np.zeros((num_envs, len(STATS)))
        stats[finished] = rng.integers(0, 100, size=(finished.size, len(STATS)))
        steps.append(
            {
                "rewards": rng.normal(size=num_envs).astype(np.float32),
                "ticks": rng.integers(1, 9, size=num_envs),
                "invalid": rng.random(num_envs) < 0.3,
                "actions": rng.integers(0, 6, size=num_envs),
                "finished": finished,
                "episode_stats": stats,
            }
        )
    return steps


def feed(acc: WindowAccumulator, step: dict, n: int | None = None, seconds: float = 1.0) -> list[dict]:
    n = len(step["rewards"]) if n is None else n
    return acc.add_step(
        step["rewards"][:n],
        step["ticks"][:n],
        step["invalid"][:n],
        step["actions"][:n],
        step["finished"],
        step["episode_stats"],
        seconds,
    )


def reference_windows(steps: list[dict], window: int) -> list[dict]:
    """The same windows from a flat per-env-step list: window k holds env steps [k*W, (k+1)*W)."""
    flat, actions = [], []
    for step in steps:
        for i in range(len(step["rewards"])):
            stats = step["episode_stats"][i] if i in step["finished"] else None
            flat.append((float(step["rewards"][i]), int(step["ticks"][i]), bool(step["invalid"][i]), stats))
            actions.append(int(step["actions"][i]))
    out = []
    for k in range(len(flat) // window):
        chunk = flat[k * window : (k + 1) * window]
        episodes = np.array([s for *_, s in chunk if s is not None]).reshape(-1, len(STATS))
        out.append(
            {
                "env_steps_start": k * window,
                "env_steps_end": (k + 1) * window,
                "ticks_in_window": sum(t for _, t, _, _ in chunk),
                "ticks_total": sum(t for _, t, _, _ in flat[: (k + 1) * window]),
                "episodes": len(episodes),
                "return_mean": float(episodes[:, 0].mean()) if len(episodes) else None,
                "return_max": float(episodes[:, 0].max()) if len(episodes) else None,
                "length_ticks_mean": float(episodes[:, 2].mean()) if len(episodes) else None,
                "survival_rate": float(episodes[:, 4].mean()) if len(episodes) else None,
                "reward_per_step_mean": sum(r for r, _, _, _ in chunk) / window,
                "invalid_action_rate": sum(v for _, _, v, _ in chunk) / window,
                "action_fractions": {
                    name: sum(first <= a <= last for a in actions[k * window : (k + 1) * window]) / window
                    for name, first, last in FAMILIES
                },
            }
        )
    return out


@pytest.mark.parametrize(
    ("num_envs", "window"),
    [
        (8, 3),  # batch larger than a window: one step closes two windows and splits a third
        (4, 10),  # window not a multiple of the batch: every few steps a batch is split
        (4, 8),  # exact boundary: windows close at batch ends, nothing split
        (5, 5),  # window == batch
        (1, 7),
    ],
)
def test_windows_match_a_per_env_step_reference(num_envs, window):
    steps = make_steps(np.random.default_rng(num_envs * 100 + window), num_envs, 30)
    acc = WindowAccumulator(window, ENDLESS, num_envs, STATS, FAMILIES)
    records = [r for step in steps for r in feed(acc, step)]
    expected = reference_windows(steps, window)
    assert len(records) == len(expected) == (30 * num_envs) // window
    for got, want in zip(records, expected, strict=True):
        for key, value in want.items():
            assert got[key] == pytest.approx(value), key
    assert [r["window_id"] for r in records] == list(range(len(records)))
    assert all(r["window_complete"] and r["env_steps_in_window"] == window for r in records)
    assert acc.steps_in_window == (30 * num_envs) % window


def test_one_step_can_close_several_windows_with_the_right_episodes():
    acc = WindowAccumulator(3, ENDLESS, 8, STATS, FAMILIES)
    stats = np.zeros((8, len(STATS)))
    stats[[1, 4, 7], 0] = [10.0, 20.0, 30.0]
    records = acc.add_step(
        np.ones(8, np.float32), np.full(8, 2), np.zeros(8, bool), np.zeros(8, np.int64), np.array([1, 4, 7]), stats, 0.8
    )
    assert [(r["env_steps_start"], r["env_steps_end"]) for r in records] == [(0, 3), (3, 6)]
    assert [r["return_mean"] for r in records] == [10.0, 20.0]  # env 7 ended in the open window
    assert [r["ticks_total"] for r in records] == [6, 12]
    assert acc.steps_in_window == 2 and acc.episodes == 3
    partial = acc.snapshot()
    assert partial["window_complete"] is False and partial["window_id"] == 2
    assert (partial["env_steps_in_window"], partial["return_mean"]) == (2, 30.0)
    again = acc.snapshot()
    assert again == {**partial, "time": again["time"]}  # the window stays open
    assert acc.steps_in_window == 2 and acc.next_window_id == 2
    # Time is shared out by env steps: each window got 3/8 of the 0.8 s step.
    assert records[0]["sps"] == pytest.approx(3 / 0.3)


def test_metrics_are_per_window_not_cumulative():
    acc = WindowAccumulator(4, ENDLESS, 4, STATS, FAMILIES)
    no_episode = (np.empty(0, np.int64), np.zeros((4, len(STATS))))
    first = acc.add_step(
        np.full(4, 1.0, np.float32), np.ones(4, np.int64), np.ones(4, bool), np.zeros(4, np.int64), *no_episode, 1.0
    )
    second = acc.add_step(
        np.full(4, -3.0, np.float32), np.ones(4, np.int64), np.zeros(4, bool), np.full(4, 5), *no_episode, 1.0
    )
    assert first[0]["reward_per_step_mean"] == 1.0 and second[0]["reward_per_step_mean"] == -3.0
    assert first[0]["invalid_action_rate"] == 1.0 and second[0]["invalid_action_rate"] == 0.0
    assert second[0]["ticks_in_window"] == 4 and second[0]["ticks_total"] == 8
    assert first[0]["action_fractions"] == {"low": 1.0, "mid": 0.0, "high": 0.0}
    assert second[0]["action_fractions"] == {"low": 0.0, "mid": 0.0, "high": 1.0}


def test_episode_fields_are_null_without_episodes_and_every_field_is_there():
    acc = WindowAccumulator(2, ENDLESS, 2, STATS, FAMILIES)
    (record,) = acc.add_step(
        np.zeros(2, np.float32),
        np.ones(2, np.int64),
        np.zeros(2, bool),
        np.zeros(2, np.int64),
        np.empty(0, np.int64),
        np.zeros((2, len(STATS))),
        1.0,
    )
    assert list(record) == list(WINDOW_FIELDS)
    assert record["episodes"] == 0
    assert all(record[name] is None for name in EPISODE_FIELDS)


def test_a_truncated_batch_counts_only_its_first_envs():
    acc = WindowAccumulator(10, ENDLESS, 4, STATS, FAMILIES)
    step = make_steps(np.random.default_rng(1), 4, 1)[0]
    step["finished"] = np.array([0, 3])
    feed(acc, step, n=2)
    assert acc.env_steps == 2 and acc.episodes == 1
    assert acc.ticks == int(step["ticks"][:2].sum())


def test_state_dict_round_trip_continues_the_same_windows():
    steps = make_steps(np.random.default_rng(7), 4, 12)
    whole = WindowAccumulator(6, ENDLESS, 4, STATS, FAMILIES)
    expected = [r for step in steps for r in feed(whole, step)]

    first = WindowAccumulator(6, ENDLESS, 4, STATS, FAMILIES)
    got = [r for step in steps[:5] for r in feed(first, step)]
    second = WindowAccumulator(6, ENDLESS, 4, STATS, FAMILIES)
    second.load_state_dict(first.state_dict())
    got += [r for step in steps[5:] for r in feed(second, step)]

    def comparable(r):
        return {k: v for k, v in r.items() if k != "time"}

    assert [comparable(r) for r in got] == [comparable(r) for r in expected]


def test_the_last_window_ends_at_the_total_even_when_short():
    acc = WindowAccumulator(10, 23, 4, STATS, FAMILIES)
    steps = make_steps(np.random.default_rng(3), 4, 6)
    records = []
    for step in steps:
        records += feed(acc, step, n=min(4, 23 - acc.env_steps))
    assert [(r["env_steps_start"], r["env_steps_end"], r["window_complete"]) for r in records] == [
        (0, 10, True),
        (10, 20, True),
        (20, 23, True),
    ]
    assert acc.env_steps == 23 and acc.snapshot() is None


def test_a_window_opened_off_the_grid_runs_to_the_next_multiple():
    """A run extended past a short last window: the next window ends on the grid again."""
    short = WindowAccumulator(10, 13, 4, STATS, FAMILIES)
    steps = make_steps(np.random.default_rng(4), 4, 10)
    for step in steps[:4]:
        feed(short, step, n=min(4, 13 - short.env_steps))
    extended = WindowAccumulator(10, 33, 4, STATS, FAMILIES)
    extended.load_state_dict(short.state_dict())
    records = [r for step in steps[4:] for r in feed(extended, step, n=min(4, 33 - extended.env_steps))]
    assert [(r["window_id"], r["env_steps_start"], r["env_steps_end"]) for r in records] == [
        (2, 13, 20),
        (3, 20, 30),
        (4, 30, 33),
    ]


def test_a_step_clock_leaves_paused_time_out_of_the_next_lap(monkeypatch):
    now = iter([0.0, 10.0, 11.0, 12.5, 16.5, 20.0])  # made, start, lap, pause in, pause out, lap
    monkeypatch.setattr(trainer.windows.time, "perf_counter", lambda: next(now))
    clock = StepClock()
    clock.start()
    assert clock.lap() == 1.0
    with clock.paused():
        pass
    assert clock.lap() == 20.0 - 11.0 - (16.5 - 12.5)
