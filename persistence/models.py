"""Table models. They stay inside persistence/: the HTTP side has its own schemas."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class Room(SQLModel, table=True):
    __tablename__ = "room"

    id: str = Field(primary_key=True, max_length=36)
    created_at: datetime = Field(default_factory=utcnow)
    last_activity_at: datetime = Field(default_factory=utcnow)
    creator_ip: str = Field(default="", max_length=64)
    active_users: int = 0


class PathRecord(SQLModel, table=True):
    """A register's winning version, materialised at each snapshot (for export and queries)."""

    __tablename__ = "path"

    room_id: str = Field(primary_key=True, foreign_key="room.id", max_length=36)
    key: str = Field(primary_key=True, max_length=64)
    d: str | None = None
    color: str | None = Field(default=None, max_length=9)
    width: float | None = None
    ts: float
    deleted: bool = False


class UserSession(SQLModel, table=True):
    """One row per token issued: who joined which room, and when they were last seen."""

    __tablename__ = "user_session"

    id: str = Field(primary_key=True, max_length=36)
    room_id: str = Field(foreign_key="room.id", index=True, max_length=36)
    username: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    last_active_at: datetime = Field(default_factory=utcnow)


class DocUpdate(SQLModel, table=True):
    """The durable update log: one merged batch per row, appended before it is broadcast."""

    __tablename__ = "doc_update"
    __table_args__ = (Index("ix_doc_update_room_seq", "room_id", "seq"),)

    seq: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
    )
    room_id: str = Field(foreign_key="room.id", max_length=36)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class DocSnapshot(SQLModel, table=True):
    """The whole document at one point of the log (`upto_seq`)."""

    __tablename__ = "doc_snapshot"

    room_id: str = Field(primary_key=True, foreign_key="room.id", max_length=36)
    state: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    upto_seq: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    created_at: datetime = Field(default_factory=utcnow)


class HistoryPointRecord(SQLModel, table=True):
    """One history point of a room (docs/protocol.md §7), stored small (persistence/history.py).

    `data` is a base (every drawn path) or what changed since the room's previous point,
    as compressed JSON; `at_ms` is unique and increasing per room.
    """

    __tablename__ = "history_point"
    __table_args__ = (Index("ix_history_point_at", "at_ms"),)

    room_id: str = Field(primary_key=True, foreign_key="room.id", max_length=36)
    at_ms: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    paths: int
    base: bool
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
