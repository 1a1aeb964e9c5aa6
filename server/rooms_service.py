"""The room use cases behind the HTTP routes: create a room, let a user in.

They speak to ports only (the real-time state, the room records, the token service) and
raise their own errors; the routes turn those into HTTP answers (server/api/rooms.py).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from functools import partial
from typing import Protocol

import anyio
from anyio import to_thread

from crdt.boards import board_state
from crdt.svg import import_svg
from persistence.rooms import RoomInfo
from persistence.state import RealtimeState, StateUnavailable
from server.auth import TokenService

log = logging.getLogger("whiteboard.create_room")


class RoomRecords(Protocol):
    """What the use cases need of the durable room records (persistence/rooms.py)."""

    async def create_room(
        self, *, creator_ip: str, room_id: str | None = None, initial_state: bytes | None = None
    ) -> RoomInfo: ...

    async def find_room(self, room_id: str) -> RoomInfo | None: ...

    async def record_session(self, *, user_id: str, room_id: str, username: str) -> None: ...


class RoomLimitReached(Exception):
    """The creator's address (or network) already has its limit of live rooms."""

    def __init__(self, *, limit: int, retry_after_s: int) -> None:
        super().__init__(f"already {limit} live rooms")
        self.limit = limit
        self.retry_after_s = retry_after_s  # when the oldest of them stops counting


@dataclass(frozen=True, slots=True)
class Creator:
    """Who asks for a room: their address, and what the per-address room limit counts."""

    ip: str
    counted_as: str  # the address, or an IPv6 address's network


@dataclass(frozen=True, slots=True)
class ImportLimits:
    max_svg_bytes: int
    max_path_data: int


@dataclass(frozen=True, slots=True)
class Member:
    """A user let into a room, with the token that proves it."""

    user_id: str
    name: str
    token: str


@dataclass(frozen=True, slots=True)
class CreatedRoom:
    room: RoomInfo
    member: Member
    imported_paths: int
    skipped_elements: int  # SVG elements the import could not turn into paths


async def create_room(
    *,
    name: str,
    svg: str | None,
    creator: Creator,
    max_rooms: int,
    limits: ImportLimits,
    state: RealtimeState,
    records: RoomRecords,
    tokens: TokenService,
) -> CreatedRoom:
    """Claim a room slot for the creator, import the SVG (if any), store the room, and let
    the creator in.

    Raises RoomLimitReached, StateUnavailable (persistence/state.py), and the import's
    SvgError or SvgTooLarge (crdt/svg). A room that was not stored gives its slot back.
    """
    room_id = str(uuid.uuid4())
    claim = await state.claim_room(ip=creator.counted_as, room_id=room_id, limit=max_rooms)
    if not claim.allowed:
        raise RoomLimitReached(limit=max_rooms, retry_after_s=claim.retry_after_s)
    try:
        initial_state, imported, skipped = await _import(svg, limits)
        room = await records.create_room(
            creator_ip=creator.ip, room_id=room_id, initial_state=initial_state
        )
    except BaseException:
        # Shielded: a cancelled request must not keep counting a room that does not exist.
        with anyio.CancelScope(shield=True):
            await _give_back(state, room_id)
        raise
    member = await let_in(room.id, name, records=records, tokens=tokens)
    return CreatedRoom(room, member, imported, skipped)


async def _give_back(state: RealtimeState, room_id: str) -> None:
    try:
        await state.release_claim(room_id)
    except StateUnavailable as exc:
        # The claim lapses by itself after the live window; the caller hears what went wrong
        # first (the import or the database), not this.
        log.warning("giving back a room slot failed", extra={"room": room_id, "error": str(exc)})


async def let_in(
    room_id: str, name: str, *, records: RoomRecords, tokens: TokenService
) -> Member:
    """A new user of the room: an id, a token, and the session on record."""
    user_id = str(uuid.uuid4())
    token = tokens.issue(room_id=room_id, user_id=user_id, name=name)
    await records.record_session(user_id=user_id, room_id=room_id, username=name)
    return Member(user_id=user_id, name=name, token=token)


async def _import(svg: str | None, limits: ImportLimits) -> tuple[bytes | None, int, int]:
    """The new room's first state, how many strokes it holds, and what was skipped."""
    if svg is None:
        return None, 0, 0
    result = await to_thread.run_sync(
        partial(
            import_svg, svg, max_bytes=limits.max_svg_bytes, max_path_data=limits.max_path_data
        )
    )
    state = board_state(
        result.paths, now_ms=time.time() * 1000, max_path_data=limits.max_path_data
    )
    return state, len(result.paths), result.skipped_elements
