"""The costs a play session shows for its valid actions are what taking them costs."""

from __future__ import annotations

import random

import pytest

from trainer.play import PlaySession

pytestmark = pytest.mark.usefixtures("warm_numba")  # these tests step the env in this process


@pytest.mark.parametrize("seed", [3, 11])
def test_each_shown_cost_is_what_the_action_then_takes(seed: int) -> None:
    session = PlaySession(seed, time_max=20000)
    view = session.reset()
    pick = random.Random(seed)
    checked = 0
    while not view["done"] and checked < 300:
        shown = {a["index"]: a for a in view["actions"]}
        assert sorted(shown) == view["valid_actions"]
        # cash_out ends the game: keep playing the others
        choice = shown[pick.choice([a for a in view["valid_actions"] if shown[a]["name"] != "cash_out"] or [68])]
        before = view
        view = session.step(choice["index"])
        if view["done"]:
            break
        assert view["tick"] - before["tick"] == choice["ticks"], choice
        spent = before["state"]["fuel"] - view["state"]["fuel"]
        if choice["family"] != "buy":
            assert spent == pytest.approx(choice.get("fuel", 0.0), abs=0.06), choice
        if "credits" in choice:
            assert before["state"]["credits"] - view["state"]["credits"] == pytest.approx(choice["credits"], abs=0.01)
        if choice["family"] == "travel":
            assert view["state"]["node"] == choice["to"]
        checked += 1
    assert checked > 20
