"""The dashboard with the API token on: the page asks for it, then every call carries it
(the bearer header; `?token=` from POST /auth/sse-token for EventSource)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support import hand_made_run
from tests.serving import Server
from tests.dashboard.browser import screenshot

TOKEN = "dashboard-test-token-0123456789"


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root: Path = tmp_path_factory.mktemp("token") / "runs"
    hand_made_run(root, "done", "completed", windows=3)
    server = Server(root, root.parent / "server.log", token=TOKEN).start()
    yield server
    server.stop()


def test_the_page_asks_for_the_token_then_lists_and_streams_with_it(page: Page, token_server: Server) -> None:
    page.goto(token_server.url + "/#/runs")
    expect(page.locator("#banner")).to_contain_text("API token")
    screenshot(page, "auth-needed")
    page.fill("#token-input", TOKEN)
    page.click("#token-form button")
    expect(page.locator("#banner")).to_be_hidden()
    expect(page.locator("tr[data-run-id='done'] [data-status]")).to_have_text("completed")

    stream_urls: list[str] = []
    page.on("request", lambda request: stream_urls.append(request.url) if "/events" in request.url else None)
    page.click("text=done")
    expect(page.locator("#view")).to_have_attribute("data-windows", "3")
    expect(page.locator("#connection")).to_have_text("ended")
    assert stream_urls and all("token=" in url and TOKEN not in url for url in stream_urls)
