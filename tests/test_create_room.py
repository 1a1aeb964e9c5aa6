"""The create-room use case on its own: a real SQLite database, the in-process state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crdt.svg import SvgError
from persistence.db import create_db_engine
from persistence.migrate import migrate
from persistence.realtime import open_realtime_state
from persistence.rooms import RoomRepository
from persistence.state import RealtimeState
from server.auth import TokenService
from server.rooms_service import (
    CreatedRoom,
    Creator,
    ImportLimits,
    RoomLimitReached,
    create_room,
)

pytestmark = pytest.mark.anyio

ALICE = Creator(ip="192.0.2.1", counted_as="192.0.2.1")
TOKENS = TokenService(secret="a test secret that is long enough for HS256")
SQUARE = '<svg xmlns="http://www.w3.org/2000/svg"><path d="M 0 0 L 10 0 L 10 10 Z"/></svg>'


@pytest.fixture
def records(tmp_path: Path) -> Iterator[RoomRepository]:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    yield RoomRepository(engine)
    engine.dispose()


@pytest.fixture
def state() -> RealtimeState:
    return open_realtime_state(None, prefix="unused", live_window_s=600, presence_ttl_s=15)


async def create(
    records: RoomRepository, state: RealtimeState, *, svg: str | None = None, max_rooms: int = 1
) -> CreatedRoom:
    return await create_room(
        name="Alice",
        svg=svg,
        creator=ALICE,
        max_rooms=max_rooms,
        limits=ImportLimits(max_svg_bytes=1 << 20, max_path_data=1 << 16),
        state=state,
        records=records,
        tokens=TOKENS,
    )


async def test_a_created_room_is_stored_and_its_creator_holds_a_token_for_it(records, state):
    created = await create(records, state, svg=SQUARE)
    assert await records.find_room(created.room.id) == created.room
    claims = TOKENS.verify(created.member.token)
    assert (claims.room_id, claims.user_id, claims.name) == (
        created.room.id, created.member.user_id, "Alice"
    )
    assert created.imported_paths == 1


async def test_the_limit_refuses_one_room_more_with_a_retry_time(records, state):
    await create(records, state, max_rooms=1)
    with pytest.raises(RoomLimitReached) as refused:
        await create(records, state, max_rooms=1)
    assert refused.value.limit == 1 and refused.value.retry_after_s >= 1


async def test_an_unreadable_svg_stores_nothing_and_gives_the_slot_back(records, state):
    with pytest.raises(SvgError):
        await create(records, state, svg="<not svg", max_rooms=1)
    # The slot is free again: the next room within the same limit of one is created.
    await create(records, state, max_rooms=1)
