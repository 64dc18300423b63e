"""The dashboard's files as the server serves them (no browser)."""

from __future__ import annotations

import re
from pathlib import Path

from app.api.routes.dashboard import STATIC_DIR
from tests.support import in_process_client

TOKEN = "static-test-token-0123456789"


def test_the_page_and_its_files_need_no_token_but_the_api_does(tmp_path: Path) -> None:
    with in_process_client(tmp_path / "runs", token=TOKEN) as client:
        bare = {"Authorization": ""}
        page = client.get("/", headers=bare)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        for src in re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text):
            assert client.get(src, headers=bare).status_code == 200, src
        assert client.get("/static/vendor/uplot/LICENSE", headers=bare).status_code == 200
        assert client.get("/runs", headers=bare).status_code == 401
        assert client.get("/static/../core/config.py", headers=bare).status_code == 404
        assert "/" not in client.get("/openapi.json").json()["paths"]


def test_every_module_is_preloaded_by_the_page() -> None:
    html = (STATIC_DIR / "index.html").read_text()
    preloaded = set(re.findall(r'rel="modulepreload" href="/static/([^"]+)"', html))
    modules = {str(p.relative_to(STATIC_DIR)) for p in STATIC_DIR.rglob("*.js")}
    assert preloaded == modules
