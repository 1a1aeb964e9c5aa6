"""The HTTP side's request and response shapes (docs/protocol.md §1)."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

MAX_NAME_LENGTH = 64


def _valid_name(value: str) -> str:
    value = value.strip()
    if not 1 <= len(value) <= MAX_NAME_LENGTH:
        raise ValueError(f"name must be 1 to {MAX_NAME_LENGTH} characters after trimming")
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise ValueError("name must not contain control characters")
    return value


UserName = Annotated[str, AfterValidator(_valid_name)]


class RoomCreate(BaseModel):
    name: UserName
    svg: str | None = None


class RoomJoin(BaseModel):
    name: UserName


class UserPublic(BaseModel):
    id: str
    name: str


class RoomJoined(BaseModel):
    room_id: str
    ws_url: str
    token: str
    user: UserPublic


class RoomCreated(RoomJoined):
    invite_url: str
    imported_paths: int = 0
    skipped_elements: int = 0


class RoomPublic(BaseModel):
    room_id: str
    created_at: datetime
    last_activity_at: datetime
    active_users: int = Field(ge=0)


class Cursor(BaseModel):
    x: float
    y: float


class PresenceUser(BaseModel):
    id: str
    name: str
    color: str
    cursor: Cursor | None
    last_active_at: datetime


class Presence(BaseModel):
    users: list[PresenceUser]
