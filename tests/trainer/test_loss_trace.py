"""`trainer.evaluate --losses`: the last steps before each lost ship."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.evaluate import MAX_EVAL_BATCH, baseline_act, run_episodes
from trainer.evaluate import main as evaluate_main
from trainer.loss_trace import TRACE_FIELDS, TRACE_STEPS, LossTracer

pytestmark = pytest.mark.usefixtures("warm_numba")  # these tests step the env in this process

EPISODES = MAX_EVAL_BATCH + 44  # two batches: episode numbers carry over


def test_every_lost_ship_is_traced_up_to_the_step_that_lost_it():
    tracer = LossTracer()
    result = run_episodes(baseline_act("random", 7), EPISODES, 7, observer=tracer)
    destroyed, stranded = result.column("destroyed") > 0, result.column("stranded") > 0
    assert [ship.episode for ship in tracer.lost] == np.flatnonzero(destroyed | stranded).tolist()
    assert len(tracer.lost) >= 5 and any(ship.episode >= MAX_EVAL_BATCH for ship in tracer.lost)
    field = {name: k for k, name in enumerate(TRACE_FIELDS)}
    for ship in tracer.lost:
        steps = len(ship.actions)
        assert steps == min(TRACE_STEPS, int(result.column("length")[ship.episode])) == len(ship.after)
        assert (np.diff(ship.after[:, field["ticks"]]) > 0).all()  # oldest first
        assert ship.after[-1, field["ticks"]] == result.column("ticks")[ship.episode]
        last = ship.after[-1]
        assert (last[field["hull"]] <= 0) == destroyed[ship.episode]
        assert (last[field["fuel"]] <= 0 and last[field["hops"]] > 0) == stranded[ship.episode]


def test_the_cli_prints_the_first_n_lost_ships_and_refuses_a_negative_n(capsys):
    assert evaluate_main(["--policy", "random", "--episodes", str(EPISODES), "--seed", "7", "--losses", "2"]) == 0
    out = capsys.readouterr().out
    traces = [line for line in out.splitlines() if line.startswith("    episode ")]
    assert len(traces) == 2 and "lost ships: " in out
    assert all((" destroyed " in t or " stranded " in t) and t.count(" | ") == TRACE_STEPS - 1 for t in traces)
    assert evaluate_main(["--policy", "random", "--episodes", "5", "--seed", "7"]) == 0
    assert "lost ships" not in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        evaluate_main(["--losses", "-1"])
    assert exc.value.code == 2 and "argument --losses" in capsys.readouterr().err
