"""`GET /runs/{id}/logs?follow=true` keeps the lines a trainer logs after its final status."""

from __future__ import annotations

from pathlib import Path

from tests.app.support import Server, hand_made_run
from trainer.rundir import RunLock


def test_a_followed_log_ends_with_the_lines_written_after_the_final_status(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    paths = hand_made_run(root, "ending", "completed", windows=1)
    paths.log.write_text("window 0\n")
    lock = RunLock(paths)  # the trainer still owns its run: it logs its last line after the status
    assert lock.acquire()
    server = Server(root, tmp_path / "server.log").start()
    try:
        text, owned = "", True
        with server.client() as client, client.stream("GET", "/runs/ending/logs?follow=true&tail=10") as response:
            for chunk in response.iter_text():
                text += chunk
                if owned:
                    with open(paths.log, "a") as log:
                        log.write("run ending completed\n")
                    lock.release()
                    owned = False
        assert text == "window 0\nrun ending completed\n"
    finally:
        server.stop()
