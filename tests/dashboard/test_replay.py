"""The Replay page: a recorded evaluation episode of a real run, scrubbed and played."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.support import SHORT
from tests.serving import Server, wait_for
from tests.dashboard.browser import screenshot


def test_open_a_replay_from_its_run_scrub_to_the_end_and_play_it(page: Page, server: Server) -> None:
    with server.client() as client:
        assert client.post("/runs", json={**SHORT, "run_id": "replayed", "eval_replays": 1}).status_code == 201
        wait_for(lambda: client.get("/runs/replayed").json()["status"] == "completed", 60, "the run to complete")
        entries = client.get("/runs/replayed/replays").json()["items"]
        first = entries[0]
        frames = client.get(f"/runs/replayed/replays/{first['replay_id']}/frames?limit=2000").json()["frames"]
    assert len(entries) == 3 and len(frames) == first["steps"]

    page.goto(server.url + "/#/runs/replayed")
    page.click(f"text={first['replay_id']}")
    view = page.locator("#view")
    expect(view).to_have_attribute("data-frames", str(len(frames)))
    expect(page.locator("#replay-picker option")).to_have_count(3)
    expect(page.locator("#replay-status")).to_contain_text("every_window")
    expect(view).to_have_attribute("data-position", "0")

    page.locator("#scrubber").fill(str(len(frames)))
    expect(view).to_have_attribute("data-position", str(len(frames)))
    last = frames[-1]
    expect(page.locator("#position")).to_have_text(f"step {len(frames)} / {len(frames)} · tick {last['tick']:,}")
    expect(page.locator("#feed li").first).to_contain_text(last["action_name"])
    expect(page.locator("#credits")).to_have_text(f"{round(last['state']['credits']):,} credits")
    fuel = page.locator("[data-gauge='fuel'] div")
    assert fuel.get_attribute("style") == f"width:{last['state']['fuel'] / 10:g}%"
    screenshot(page, "replay-end")

    page.locator("#scrubber").fill("0")
    page.select_option("#speed", "1")
    page.click("#play")
    expect(page.locator("#play")).to_have_text("Pause")
    page.wait_for_function("Number(document.querySelector('#view').dataset.position) >= 1")
    page.click("#play")
    expect(page.locator("#play")).to_have_text("Play")
    paused_at = int(view.get_attribute("data-position") or "0")
    page.select_option("#speed", "100")
    page.click("#play")  # on to the end, where it stops
    expect(view).to_have_attribute("data-position", str(len(frames)), timeout=15_000)
    expect(page.locator("#play")).to_have_text("Play")
    assert 1 <= paused_at < len(frames)
