"""A run's window records (metrics/windows.jsonl)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status

from app.api.deps import AfterWindowId, RunDep, RunPathsDep, WindowLogsDep
from app.models import NOT_FOUND, MetricsPage

router = APIRouter(prefix="/runs", tags=["metrics"])

NDJSON = "application/x-ndjson"


def _wants_json(accept: str | None) -> bool:
    return accept is not None and "application/json" in accept and NDJSON not in accept


@router.get(
    "/{run_id}/metrics",
    response_model=MetricsPage,
    responses={
        status.HTTP_200_OK: {
            "content": {NDJSON: {"schema": {"type": "string"}}},
            "description": "NDJSON: the window lines as written; with `Accept: application/json`, a page.",
        },
        **NOT_FOUND,
    },
)
async def run_metrics(
    meta: RunDep,
    paths: RunPathsDep,
    window_logs: WindowLogsDep,
    after: Annotated[AfterWindowId, Query(description="Only windows with a larger window_id.")] = -1,
    limit: Annotated[int, Query(ge=1, le=10_000, description="At most this many windows.")] = 1000,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """Window records after `after`, oldest first: NDJSON by default, or a JSON page."""
    windows = window_logs.get(paths.windows).after(after, limit=limit)
    if _wants_json(accept):
        # The lines are JSON objects already: spliced into the page as written, not re-parsed.
        next_after = windows[-1][0] if windows else after
        items = b",".join(raw for _, raw in windows)
        return Response(b'{"items":[%s],"next_after":%d}' % (items, next_after), media_type="application/json")
    body = b"".join(raw + b"\n" for _, raw in windows)
    return Response(body, media_type=NDJSON)
