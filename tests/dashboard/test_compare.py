"""The Compare page: one metric of several runs overlaid."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.support import hand_made_run
from tests.serving import Server
from tests.dashboard.browser import screenshot


def test_two_runs_overlaid_against_env_steps_and_wall_time(page: Page, server: Server) -> None:
    hand_made_run(server.runs_root, "cmp-a", "completed", windows=3)
    hand_made_run(server.runs_root, "cmp-b", "completed", windows=5)
    page.goto(server.url + "/#/compare?runs=cmp-a,cmp-b&metric=sps")
    plot = page.locator("#compare-plot")
    expect(plot).to_have_attribute("data-series", "2")
    expect(plot).to_have_attribute("data-points", "8")
    expect(page.locator(".u-legend")).to_contain_text("cmp-b")
    page.select_option("select[name=x]", "elapsed_s")
    expect(page.locator(".u-legend")).to_contain_text("wall time")
    page.uncheck("input[value='cmp-b']")
    expect(plot).to_have_attribute("data-series", "1")
    expect(plot).to_have_attribute("data-points", "3")
    page.check("input[value='cmp-b']")
    expect(plot).to_have_attribute("data-series", "2")
    assert "x=elapsed_s" in page.url
    screenshot(page, "compare")
