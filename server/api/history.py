"""History (docs/protocol.md §1 and §7): list a room's points, draw one, restore one."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from crdt.errors import CloseConnection, RoomNotFound
from crdt.history import PointBoard, iso
from crdt.paths import PathEntry
from server.deps import RoomId, RoomToken, Services, ServicesDep, room_not_found

router = APIRouter(prefix="/api/rooms", tags=["history"])


class HistoryPointPublic(BaseModel):
    at: str  # ISO 8601 UTC, to the millisecond: hand it back as is to get this very point
    paths: int


class HistoryPublic(BaseModel):
    points: list[HistoryPointPublic]  # newest first


class RestoreRequest(BaseModel):
    at: datetime  # a time without a zone is UTC


class Restored(BaseModel):
    at: str  # the point used
    changed_paths: int


def parse_at(text: str) -> datetime:
    """An ISO 8601 date or time (`Z` or an offset; none is UTC), or 400."""
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise HTTPException(
            400, detail=f"at must be ISO 8601, such as 2026-11-26T10:00:00Z; got {text!r:.60}"
        ) from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


async def _board_at(services: Services, room_id: str | None, at: datetime) -> PointBoard:
    found = await services.history.board_at(room_id, at) if room_id is not None else None
    if found is None:
        raise room_not_found()
    return found


async def entries_at(services: Services, room_id: str | None, at: str) -> list[PathEntry]:
    """What `GET .../svg?at=` draws: the board at the newest point at or before `at`."""
    when = parse_at(at)
    return (await _board_at(services, room_id, when)).entries


@router.get("/{room_id}/history", response_model=HistoryPublic)
async def read_history(
    room_id: RoomId, _claims: RoomToken, services: ServicesDep
) -> HistoryPublic:
    found = await services.history.history(room_id) if room_id is not None else None
    if found is None:
        raise room_not_found()
    return HistoryPublic(
        points=[HistoryPointPublic(at=iso(point.at_ms), paths=point.paths) for point in found]
    )


async def _restore_request(request: Request, services: Services) -> RestoreRequest:
    limit = services.settings.max_json_bytes
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, detail=f"the JSON body is larger than {limit} bytes")
        chunks.append(chunk)
    try:
        return RestoreRequest.model_validate_json(b"".join(chunks))
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None


@router.post(
    "/{room_id}/restore",
    response_model=Restored,
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": RestoreRequest.model_json_schema()}
    }}},
)
async def restore_room(
    room_id: RoomId, request: Request, _claims: RoomToken, services: ServicesDep
) -> Restored:
    """Bring the board back as it stood at the newest point at or before `at`, as a change
    every client receives (§7)."""
    if room_id is None or await services.repository.find_room(room_id) is None:
        raise room_not_found()
    body = await _restore_request(request, services)
    found = await _board_at(services, room_id, body.at)
    if found.point is None:
        raise HTTPException(409, detail=f"the room has no history point at or before {body.at}")
    try:
        changed = await services.rooms.restore(room_id, found.entries)
    except RoomNotFound:
        raise room_not_found() from None
    except CloseConnection:
        raise HTTPException(503, detail="the room cannot be loaded now; try again") from None
    return Restored(at=iso(found.point.at_ms), changed_paths=changed)
