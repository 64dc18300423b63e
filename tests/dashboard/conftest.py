"""Fixtures: one real server and one headless Chromium for the dashboard's tests; a fresh page
(its own storage) per test, failing the test on any uncaught error in the page. They live as long
as the package runs: Playwright's sync API holds an event loop on this thread, in which the other
suites' `asyncio.run` could not run (under xdist a worker goes on to other modules)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.app.conftest import kill_live_trainers
from tests.dashboard.browser import chromium_path
from tests.serving import Server


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="package")
def runs_root(tmp_path_factory: pytest.TempPathFactory, warm_numba: None) -> Iterator[Path]:
    """The shared server's run root; numba's cache is filled first so the first trainer does not
    spend its test's time compiling."""
    root = tmp_path_factory.mktemp("dashboard") / "runs"
    yield root
    kill_live_trainers(root)


@pytest.fixture(scope="package")
def server(runs_root: Path) -> Iterator[Server]:
    server = Server(runs_root, runs_root.parent / "server.log").start()
    yield server
    server.stop()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"errors in the page: {errors}"
