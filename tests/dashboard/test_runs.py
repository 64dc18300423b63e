"""The Runs, Launch and Run pages in headless Chromium against a real server and real trainers."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from tests.support import LONG, file_windows
from tests.serving import Server, wait_for
from tests.dashboard.browser import screenshot
from trainer.config import TrainConfig


def chart_window_ids(page: Page) -> list[int]:
    return page.evaluate("window.dashboard?.run?.windowIds() ?? []")


def test_a_random_run_launched_from_the_form_charts_every_window_and_completes(page: Page, server: Server) -> None:
    page.goto(server.url + "/#/launch")
    page.click("[data-preset='quick random smoke']")
    page.fill("#field-run_id", "smoke")
    expect(page.locator("#field-trainer_backend")).to_have_value("random")
    screenshot(page, "launch")
    page.click("#launch-form button[type=submit]")

    page.wait_for_url("**/#/runs/smoke")
    expect(page.locator("#view")).to_have_attribute("data-status", "completed", timeout=60_000)
    windows = file_windows(server.runs_root, "smoke")
    assert len(windows) == 20  # the preset: 40,000 env steps in windows of 2,000
    expect(page.locator("#view")).to_have_attribute("data-windows", "20")
    assert chart_window_ids(page) == [w["window_id"] for w in windows]
    expect(page.locator("[data-chart='Return']")).to_have_attribute("data-points", "20")
    expect(page.locator("[data-chart='Entropy']")).to_be_hidden()  # PPO charts only for PPO runs
    expect(page.locator("#cancel")).to_be_disabled()
    expect(page.locator("#log")).to_contain_text("completed")
    config = json.loads(page.locator(".config").text_content() or "{}")
    assert config["total_env_steps"] == 40_000 and config["num_envs"] == 16
    screenshot(page, "run-completed")

    page.goto(server.url + "/#/runs")
    row = page.locator("tr[data-run-id='smoke']")
    expect(row.locator("[data-status]")).to_have_text("completed")
    expect(row).to_contain_text("40,000")
    page.fill("input[name=q]", "nothing-")
    expect(row).to_have_count(0)
    page.fill("input[name=q]", "smo")
    expect(row).to_have_count(1)
    screenshot(page, "runs")


def test_every_launch_preset_fills_the_form_with_a_config_the_trainer_accepts(page: Page, server: Server) -> None:
    page.goto(server.url + "/#/launch")
    presets = page.evaluate("import('/static/js/pages/launch.js').then((launch) => launch.PRESETS)")
    assert "PPO long, fast (bfloat16, 2 threads)" in presets
    for name, values in presets.items():
        config = TrainConfig(**values)  # raises, naming the field, on a preset the trainer refuses
        page.click(f"[data-preset='{name}']")
        for field, value in values.items():
            expect(page.locator(f"#field-{field}")).to_have_value(str(value))
        assert config.model_dump(include=set(values)) == values


def test_the_servers_422_is_shown_next_to_the_field_it_names(page: Page, server: Server) -> None:
    page.goto(server.url + "/#/launch")
    page.fill("#field-run_id", "refused")
    page.fill("#field-total_env_steps", "1000")
    page.fill("#field-window_env_steps", "5000")  # more than the total: only the server knows
    page.click("#launch-form button[type=submit]")
    error = page.locator("[data-error-for='window_env_steps']")
    expect(error).to_contain_text("total_env_steps")
    expect(page.locator("[data-field='window_env_steps']")).to_have_class("field invalid")
    expect(page.locator("[data-error-for='total_env_steps']")).to_have_text("")
    screenshot(page, "launch-422")
    with server.client() as client:
        assert client.get("/runs/refused").status_code == 404

    page.fill("#field-num_envs", "0")  # the schema's bound: caught before any request
    expect(page.locator("[data-error-for='num_envs']")).to_have_text("more than 0")


def test_an_unknown_run_says_so(page: Page, server: Server) -> None:
    page.goto(server.url + "/#/runs/no-such-run")
    expect(page.locator("#run-error")).to_have_text("There is no run no-such-run.")


def test_cancel_resume_and_delete_from_the_run_page(page: Page, server: Server) -> None:
    with server.client() as client:
        assert client.post("/runs", json={**LONG, "run_id": "to-cancel"}).status_code == 201
    page.goto(server.url + "/#/runs/to-cancel")
    view = page.locator("#view")
    wait_for(lambda: len(chart_window_ids(page)) >= 3, 60, "three windows on the chart")
    page.click("#cancel")
    expect(view).to_have_attribute("data-status", "cancelled", timeout=30_000)
    expect(page.locator("#resume")).to_be_enabled()
    screenshot(page, "run-cancelled")
    assert chart_window_ids(page) == [w["window_id"] for w in file_windows(server.runs_root, "to-cancel")]

    page.click("#resume")
    expect(view).to_have_attribute("data-status", "running", timeout=30_000)
    charted = len(chart_window_ids(page))
    wait_for(lambda: len(chart_window_ids(page)) > charted, 60, "windows of the resumed run on the chart")
    page.click("#cancel")
    expect(view).to_have_attribute("data-status", "cancelled", timeout=30_000)

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#delete")
    page.wait_for_url("**/#/runs")
    expect(page.locator("tr[data-run-id='to-cancel']")).to_have_count(0)
    assert not (server.runs_root / "to-cancel").exists()


def test_the_chart_resumes_with_no_gap_or_duplicate_after_the_server_is_killed_and_restarted(
    page: Page, server: Server
) -> None:
    with server.client() as client:
        assert client.post("/runs", json={**LONG, "run_id": "reconnect"}).status_code == 201
    page.goto(server.url + "/#/runs/reconnect")
    wait_for(lambda: len(chart_window_ids(page)) >= 3, 60, "three windows on the chart")

    server.kill()  # SIGKILL: the trainer, in its own process group, trains on
    written = len(file_windows(server.runs_root, "reconnect"))
    wait_for(lambda: len(file_windows(server.runs_root, "reconnect")) > written + 3, 30, "windows written meanwhile")
    expect(page.locator("#connection")).not_to_have_text("open")
    server.start()
    written = len(file_windows(server.runs_root, "reconnect"))
    wait_for(lambda: len(chart_window_ids(page)) > written, 60, "the windows written while the server was down")
    expect(page.locator("#connection")).to_have_text("open")

    with server.client() as client:
        assert client.post("/runs/reconnect/cancel").status_code == 202
    expect(page.locator("#view")).to_have_attribute("data-status", "cancelled", timeout=30_000)
    windows = [w["window_id"] for w in file_windows(server.runs_root, "reconnect")]
    expect(page.locator("#view")).to_have_attribute("data-windows", str(len(windows)))
    assert chart_window_ids(page) == windows == list(range(len(windows)))
    screenshot(page, "run-reconnected")
