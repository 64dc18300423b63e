"""The Compare page: one metric of several runs overlaid."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.app.support import SHORT, Server, file_windows, wait_for
from tests.dashboard.browser import screenshot


def test_two_runs_overlaid_against_env_steps_and_wall_time(page: Page, server: Server) -> None:
    with server.client() as client:
        for run_id, seed in (("cmp-a", 1), ("cmp-b", 2)):
            assert client.post("/runs", json={**SHORT, "run_id": run_id, "seed": seed}).status_code == 201
        wait_for(lambda: all(client.get(f"/runs/{r}").json()["status"] == "completed" for r in ("cmp-a", "cmp-b")),
                 60, "both runs to complete")
    total = sum(len(file_windows(server.runs_root, r)) for r in ("cmp-a", "cmp-b"))
    page.goto(server.url + "/#/compare?runs=cmp-a,cmp-b&metric=net_profit_mean")
    plot = page.locator("#compare-plot")
    expect(plot).to_have_attribute("data-series", "2")
    expect(plot).to_have_attribute("data-points", str(total))
    expect(page.locator(".u-legend")).to_contain_text("cmp-b")
    page.select_option("select[name=x]", "elapsed_s")
    expect(page.locator(".u-legend")).to_contain_text("wall time")
    page.uncheck("input[value='cmp-b']")
    expect(plot).to_have_attribute("data-series", "1")
    page.check("input[value='cmp-b']")
    expect(plot).to_have_attribute("data-series", "2")
    assert "x=elapsed_s" in page.url
    screenshot(page, "compare")
