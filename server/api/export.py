"""SVG export of a board, at any time (also for rooms whose live state was cleaned up)."""

from __future__ import annotations

from anyio import to_thread
from fastapi import APIRouter
from fastapi.responses import Response

from crdt.paths import PathEntry
from crdt.svg import export_svg
from server.api import history
from server.deps import RoomId, RoomTokenOrQuery, ServicesDep, room_not_found

router = APIRouter(prefix="/api/rooms", tags=["export"])


@router.get("/{room_id}/svg", response_class=Response)
async def export_room_svg(
    room_id: RoomId, _claims: RoomTokenOrQuery, services: ServicesDep, at: str | None = None
) -> Response:
    entries: list[PathEntry] | None
    if at is not None:  # the board at a history point (docs/protocol.md §7)
        entries = await history.entries_at(services, room_id, at)
    else:
        entries = await services.rooms.board(room_id) if room_id is not None else None
    if entries is None:
        raise room_not_found()
    text = await to_thread.run_sync(export_svg, entries)
    return Response(
        content=text,
        media_type="image/svg+xml",
        headers={
            "Content-Disposition": f'attachment; filename="whiteboard-{room_id}.svg"'
        },
    )
