"""Dashboard benchmarks in headless Chromium (the system browser, as tests/dashboard use it):
time to first paint of the run page over a run of 10,000 windows, and the browser's CPU while
it follows a live run writing 10 windows a second.

`python -m bench.dashboard` runs these alone.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
from playwright.sync_api import Browser, Page, sync_playwright

from bench.service import make_run, serving, window_record
from tests.dashboard.browser import chromium_path
from trainer.rundir import JsonlAppender, RunLock, RunPaths, RunStatus, update_status

HISTORY_WINDOWS = 10_000
PAINT_REPEATS = 5
LIVE_RATE_HZ = 10
LIVE_SECONDS = 20
# A PPO run's extra fields, so that every chart of the run page is drawn.
PPO_FIELDS = {"policy_loss": -0.01, "value_loss": 0.2, "entropy": 1.1, "approx_kl": 0.004, "clip_fraction": 0.05,
              "explained_variance": 0.6, "learning_rate": 0.00025}

# Resolves once the page holds `windows` windows and has painted them (two animation frames later),
# with the milliseconds since navigation started.
PAINTED = """windows => new Promise(resolve => {
  const check = () => document.querySelector('#view')?.dataset.windows === String(windows)
    ? requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now())))
    : setTimeout(check, 5);
  check();
})"""


def _record(window_id: int) -> dict[str, Any]:
    record = window_record(window_id)
    del record["written_at"]
    return {**record, **PPO_FIELDS}


def _history_run(root: Path) -> None:
    paths = make_run(root, "history", RunStatus.completed)
    with open(paths.windows, "w") as f:
        f.writelines(json.dumps(_record(i)) + "\n" for i in range(HISTORY_WINDOWS))
    update_status(paths, RunStatus.completed, windows_emitted=HISTORY_WINDOWS, latest_window=_record(HISTORY_WINDOWS - 1),
                  env_steps_total=HISTORY_WINDOWS * 1000)


def _first_paint_ms(browser: Browser, url: str) -> float:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        page.goto(url + "/#/runs/history")
        return float(page.evaluate(PAINTED, HISTORY_WINDOWS))
    finally:
        page.close()


def _live_writer(paths: RunPaths, started: threading.Event, stop: threading.Event, written: list[int]) -> None:
    """A trainer's part: take the run's lock, then write it `running` and append a window every
    1/LIVE_RATE_HZ s until stopped."""
    paths.make_dirs()
    lock = RunLock(paths)
    lock.acquire()
    make_run(paths.root.parent, paths.run_id, RunStatus.running)
    started.set()
    windows = JsonlAppender(paths.windows)
    next_at = time.monotonic()
    while not stop.is_set():
        next_at += 1 / LIVE_RATE_HZ
        time.sleep(max(0.0, next_at - time.monotonic()))
        windows.append(_record(len(written)))
        written.append(len(written))
    windows.close()
    update_status(paths, RunStatus.completed, exit_code=0)
    lock.release()


def _browser_cpu_s() -> float:
    """CPU seconds used so far by the Chromium processes under this process."""
    total = 0.0
    for process in psutil.Process().children(recursive=True):
        try:
            if "chrom" in process.name():
                times = process.cpu_times()
                total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def _follow_live(browser: Browser, url: str, paths: RunPaths) -> dict[str, Any]:
    started, stop, written = threading.Event(), threading.Event(), []
    writer = threading.Thread(target=_live_writer, args=(paths, started, stop, written))
    writer.start()
    started.wait()
    page: Page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        page.goto(url + "/#/runs/live")
        page.wait_for_function("document.querySelector('#view')?.dataset.windows > 0")
        cpu0, wall0 = _browser_cpu_s(), time.monotonic()
        time.sleep(LIVE_SECONDS)
        cpu = _browser_cpu_s() - cpu0
        wall = time.monotonic() - wall0
        stop.set()
        writer.join()
        page.wait_for_function("document.querySelector('#view')?.dataset.status === 'completed'", timeout=30_000)
        shown = page.evaluate("window.dashboard.run.windowIds()")
    finally:
        stop.set()
        page.close()
    return {"cpu_pct_of_a_core": round(100 * cpu / wall, 1), "windows_written": len(written),
            "windows_on_the_chart": len(shown), "in_order_no_duplicates": shown == list(range(len(written)))}


def bench_dashboard() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "runs"
        _history_run(root)
        live = RunPaths(root / "live")
        with serving(root, Path(tmp) / "server.log") as server, sync_playwright() as playwright:
            url = server.url
            browser = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
            _first_paint_ms(browser, url)  # the server's caches and the browser's module cache warm
            paints = [_first_paint_ms(browser, url) for _ in range(PAINT_REPEATS)]
            followed = _follow_live(browser, url, live)
            browser.close()
    print(f"dashboard: run page with {HISTORY_WINDOWS:,} windows (11 charts), navigation to painted: "
          f"median {statistics.median(paints):.0f} ms, max {max(paints):.0f} ms over {PAINT_REPEATS} loads")
    print(f"dashboard: following a live run at {LIVE_RATE_HZ} windows/s for {LIVE_SECONDS} s: browser CPU "
          f"{followed['cpu_pct_of_a_core']}% of a core; {followed['windows_on_the_chart']} of "
          f"{followed['windows_written']} windows charted, in order without duplicates: {followed['in_order_no_duplicates']}")


if __name__ == "__main__":
    bench_dashboard()
