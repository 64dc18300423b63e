"""Headless Chromium for the dashboard's tests and bench: Debian's `chromium` package driven by
Playwright (Playwright's own browser download cannot run here), and screenshots."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
INSTALL_HINT = "install it with: sudo apt-get install -y chromium  (or set PROSPECTOR_CHROMIUM to a Chromium binary)"


def chromium_path() -> str:
    """The system Chromium binary: $PROSPECTOR_CHROMIUM, else `chromium` on PATH; an error naming the
    one command that installs it when there is none."""
    path = os.environ.get("PROSPECTOR_CHROMIUM") or shutil.which("chromium")
    if not path or not os.access(path, os.X_OK):
        raise RuntimeError(f"no Chromium found for the dashboard tests; {INSTALL_HINT}")
    return path


def screenshot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    """A full-page screenshot in test-artifacts/<name>.png (git-ignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
