"""A run's evaluation replays: the index (filtered, paged), one replay, and its frames by page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field, ValidationError

from app.api.deps import PlainInt, ReplayCacheDep, RunDep, RunPathsDep
from app.models import CONFLICT, NOT_FOUND
from app.replaycache import ReplayCache
from app.run_errors import RunConflict, RunNotFound
from trainer.replay import ReplayFormatError, ReplayLines
from trainer.replay_index import read_replay_index
from trainer.rundir import ReplayEntry, RunPaths

router = APIRouter(prefix="/runs", tags=["replays"])

ReplayId = Annotated[str, Path(pattern=r"^\d{6}-\d{2}$", description="The replay's id, `<window:06d>-<k:02d>`.")]
MAX_FRAMES_PAGE = 2000


class ReplayPage(BaseModel):
    """Replays in recording order; pass `next_offset` as `offset` for the next page."""

    items: list[ReplayEntry]
    total: int = Field(description="Replays that match the filters.")
    next_offset: int | None


class ReplayDetail(BaseModel):
    """One replay: its index entry and its header (world graph, initial render state)."""

    entry: ReplayEntry
    header: dict[str, Any] = Field(description="The replay file's header line (see README: Replays).")
    end: dict[str, Any] = Field(description="How the episode ended and its statistics.")
    frames_total: int
    frames_url: str


class FramePage(BaseModel):
    """Frames `offset` .. `offset + limit - 1`, whole (README: Replays)."""

    replay_id: str
    offset: int
    total: int
    frames: list[dict[str, Any]]
    next_offset: int | None


def _index(paths: RunPaths) -> list[ReplayEntry]:
    try:
        return read_replay_index(paths).replays
    except ValidationError as exc:
        raise RunConflict(f"run {paths.run_id}: unreadable replay_index.json: {exc}") from None


def _entry(paths: RunPaths, replay_id: str) -> ReplayEntry:
    entry = next((e for e in _index(paths) if e.replay_id == replay_id), None)
    if entry is None:
        raise RunNotFound(f"run {paths.run_id} has no replay {replay_id}")
    return entry


def _lines(cache: ReplayCache, paths: RunPaths, entry: ReplayEntry) -> ReplayLines:
    try:
        return cache.get(paths.root / entry.path)
    except ReplayFormatError as exc:
        raise RunConflict(f"replay {entry.replay_id}: {exc}") from None


@router.get("/{run_id}/replays", response_model=ReplayPage, responses={**NOT_FOUND, **CONFLICT})
async def list_replays(
    meta: RunDep,
    paths: RunPathsDep,
    tag: Annotated[str | None, Query(max_length=128, description="Only replays with this tag.")] = None,
    window_id: Annotated[PlainInt | None, Query(ge=0, description="Only replays of this window.")] = None,
    offset: Annotated[PlainInt, Query(ge=0, description="Replays to skip.")] = 0,
    limit: Annotated[PlainInt, Query(ge=1, le=500, description="Page size.")] = 50,
) -> ReplayPage:
    """The run's replays in recording order (replay_index.json), filtered and paged."""
    items = [
        e for e in _index(paths) if (tag is None or tag in e.tags) and (window_id is None or e.window_id == window_id)
    ]
    end = offset + limit
    return ReplayPage(items=items[offset:end], total=len(items), next_offset=end if end < len(items) else None)


@router.get("/{run_id}/replays/{replay_id}", response_model=ReplayDetail, responses={**NOT_FOUND, **CONFLICT})
async def get_replay(meta: RunDep, paths: RunPathsDep, cache: ReplayCacheDep, replay_id: ReplayId) -> ReplayDetail:
    """One replay's entry, header (world graph, initial state) and ending."""
    entry = _entry(paths, replay_id)
    replay = _lines(cache, paths, entry)
    return ReplayDetail(
        entry=entry,
        header=replay.header,
        end=replay.end,
        frames_total=len(replay),
        frames_url=f"/runs/{meta.run_id}/replays/{replay_id}/frames",
    )


@router.get(
    "/{run_id}/replays/{replay_id}/frames", response_model=FramePage, responses={**NOT_FOUND, **CONFLICT}
)
async def get_frames(
    meta: RunDep,
    paths: RunPathsDep,
    cache: ReplayCacheDep,
    replay_id: ReplayId,
    offset: Annotated[PlainInt, Query(ge=0, description="The first frame (0 = step 1).")] = 0,
    limit: Annotated[PlainInt, Query(ge=1, le=MAX_FRAMES_PAGE, description="Frames per page.")] = 500,
) -> FramePage:
    """A page of the replay's frames; the file is read once per change, not once per page."""
    entry = _entry(paths, replay_id)
    replay = _lines(cache, paths, entry)
    try:
        frames = replay.frames(offset, limit)
    except ReplayFormatError as exc:
        raise RunConflict(f"replay {replay_id}: {exc}") from None
    end = offset + len(frames)
    return FramePage(
        replay_id=replay_id,
        offset=offset,
        total=len(replay),
        frames=frames,
        next_offset=end if end < len(replay) else None,
    )
