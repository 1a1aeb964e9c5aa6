"""Rooms and user sessions: create, find, touch."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from anyio import to_thread
from sqlalchemy import Engine, update
from sqlmodel import Session, col

from crdt.history import to_ms
from persistence.history import record_creation
from persistence.models import DocUpdate, Room, UserSession, utcnow


@dataclass(frozen=True, slots=True)
class RoomInfo:
    id: str
    created_at: datetime
    last_activity_at: datetime
    active_users: int


def _aware(value: datetime) -> datetime:
    # SQLite hands datetimes back naive; everything we store is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _info(room: Room) -> RoomInfo:
    return RoomInfo(
        id=room.id,
        created_at=_aware(room.created_at),
        last_activity_at=_aware(room.last_activity_at),
        active_users=room.active_users,
    )


class RoomRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def create_room(
        self, *, creator_ip: str, room_id: str | None = None, initial_state: bytes | None = None
    ) -> RoomInfo:
        return await to_thread.run_sync(
            self._create_room, room_id or str(uuid.uuid4()), creator_ip, initial_state
        )

    async def find_room(self, room_id: str) -> RoomInfo | None:
        return await to_thread.run_sync(self._find_room, room_id)

    async def record_session(self, *, user_id: str, room_id: str, username: str) -> None:
        await to_thread.run_sync(self._record_session, user_id, room_id, username)

    async def touch_session(self, *, user_id: str) -> None:
        await to_thread.run_sync(self._touch_session, user_id)

    async def set_active_users(self, *, room_id: str, count: int) -> None:
        await to_thread.run_sync(self._set_active_users, room_id, count)

    def _create_room(self, room_id: str, creator_ip: str, initial_state: bytes | None) -> RoomInfo:
        room = Room(id=room_id, creator_ip=creator_ip)
        with Session(self._engine) as session:
            session.add(room)
            session.flush()
            if initial_state is not None:
                session.add(DocUpdate(room_id=room.id, data=initial_state))
            record_creation(session, room.id, initial_state, at_ms=to_ms(room.created_at))
            session.commit()
            session.refresh(room)
            return _info(room)

    def _find_room(self, room_id: str) -> RoomInfo | None:
        with Session(self._engine) as session:
            room = session.get(Room, room_id)
            return _info(room) if room else None

    def _record_session(self, user_id: str, room_id: str, username: str) -> None:
        with Session(self._engine) as session:
            session.add(UserSession(id=user_id, room_id=room_id, username=username))
            session.commit()

    def _touch_session(self, user_id: str) -> None:
        with Session(self._engine) as session:
            session.exec(
                update(UserSession)
                .where(col(UserSession.id) == user_id)
                .values(last_active_at=utcnow())
            )
            session.commit()

    def _set_active_users(self, room_id: str, count: int) -> None:
        with Session(self._engine) as session:
            session.exec(update(Room).where(col(Room.id) == room_id).values(active_users=count))
            session.commit()
