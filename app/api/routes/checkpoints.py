"""A run's checkpoints: the list, and one file to download."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Path, status
from fastapi.responses import FileResponse

from app.api.deps import PlainInt, RunDep, RunPathsDep
from app.models import NOT_FOUND, CheckpointInfo, CheckpointList
from app.run_errors import RunNotFound
from trainer.rundir import checkpoint_name

router = APIRouter(prefix="/runs", tags=["checkpoints"])

_CHECKPOINT_RE = re.compile(r"ckpt_(\d+)\.pt")


@router.get("/{run_id}/checkpoints", response_model=CheckpointList, responses=NOT_FOUND)
async def list_checkpoints(meta: RunDep, paths: RunPathsDep) -> CheckpointList:
    """The run's checkpoint files, oldest first."""
    items: list[CheckpointInfo] = []
    if paths.checkpoints_dir.is_dir():
        for entry in paths.checkpoints_dir.iterdir():
            match = _CHECKPOINT_RE.fullmatch(entry.name)
            if match:
                window_id = int(match.group(1))
                url = f"/runs/{meta.run_id}/checkpoints/{window_id}"
                items.append(CheckpointInfo(window_id=window_id, size_bytes=entry.stat().st_size, url=url))
    return CheckpointList(items=sorted(items, key=lambda c: c.window_id))


@router.get(
    "/{run_id}/checkpoints/{window_id}",
    response_class=FileResponse,
    responses={
        status.HTTP_200_OK: {"content": {"application/octet-stream": {}}, "description": "The .pt file."},
        **NOT_FOUND,
    },
)
async def download_checkpoint(
    meta: RunDep,
    paths: RunPathsDep,
    window_id: Annotated[PlainInt, Path(ge=0, description="The checkpoint's window id.")],
) -> FileResponse:
    """Download the checkpoint written after window `window_id` (torch.load(weights_only=True))."""
    path = paths.checkpoint(window_id)
    if not path.is_file():
        raise RunNotFound(f"run {meta.run_id} has no checkpoint for window {window_id}")
    return FileResponse(path, media_type="application/octet-stream", filename=checkpoint_name(window_id))
