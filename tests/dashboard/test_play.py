"""The Play page: a game played in the browser through a real play session."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.serving import Server, wait_for
from tests.dashboard.browser import screenshot


def test_play_five_valid_actions(page: Page, server: Server) -> None:
    page.goto(server.url + "/#/play")
    view = page.locator("#view")
    expect(view).to_have_attribute("data-steps", "0", timeout=90_000)  # the first session starts the play worker
    # The page opens on a random seed; under some, one of the five actions below ends the episode.
    page.fill("#play-seed", "7")
    page.click("#new-game")
    expect(page.locator("#play-summary")).to_contain_text("seed 7 ·")
    expect(page.locator("[data-family='travel'] button").first).to_be_visible()
    screenshot(page, "play-start")

    tick = 0
    for step in range(1, 6):
        buttons = page.locator("#actions button")
        # a different family each time where there is one (the last button's family changes as the game goes)
        button = buttons.nth(step * 7 % buttons.count())
        name = button.get_attribute("title")
        ticks = int(re.search(r"(\d+)t\b", button.text_content() or "").group(1))  # type: ignore[union-attr]
        button.click()
        expect(view).to_have_attribute("data-steps", str(step))
        tick += ticks
        expect(view).to_have_attribute("data-tick", str(tick))
        expect(page.locator("#feed li").first).to_contain_text(f"· {name}")
        expect(page.locator("#play-status")).to_have_text("")
    screenshot(page, "play-five-actions")

    page.click("#reset")
    expect(view).to_have_attribute("data-tick", "0")
    expect(page.locator("#feed li")).to_have_count(1)

    with server.client() as client:  # the page's session is a real one, with the state the page shows
        session = re.search(r"session ([0-9a-f]{16})", page.locator("#play-summary").text_content() or "").group(1)  # type: ignore[union-attr]
        assert client.post(f"/play/{session}/reset").json()["tick"] == 0


TINY_PPO = {"trainer_backend": "puffer_ppo", "total_env_steps": 128, "window_env_steps": 128, "num_envs": 8,
            "ppo_rollout_steps": 16, "ppo_num_minibatches": 2, "eval_replays": 0}


def test_let_a_ppo_checkpoint_move(page: Page, server: Server) -> None:
    with server.client() as client:
        assert client.post("/runs", json={**TINY_PPO, "run_id": "agent"}).status_code == 201
        wait_for(lambda: client.get("/runs/agent").json()["status"] == "completed", 120, "the PPO run to complete")
    page.goto(server.url + "/#/play")
    view = page.locator("#view")
    expect(view).to_have_attribute("data-steps", "0", timeout=90_000)
    expect(page.locator("#agent-run")).to_have_value("agent")
    expect(page.locator("#agent-checkpoint")).to_have_value("0")
    page.fill("#agent-steps", "3")
    page.click("#agent-move")
    expect(view).to_have_attribute("data-steps", "3", timeout=60_000)  # the worker loads torch on the first agent step
    expect(page.locator("#play-status")).to_have_text("")
    expect(page.locator("#feed li")).to_have_count(4)
    screenshot(page, "play-agent")
