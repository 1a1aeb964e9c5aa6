"""The HTTP side's request and response shapes (docs/protocol.md §1)."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

MAX_NAME_LENGTH = 64

# Letters that draw nothing: the Hangul fillers and the blank Braille pattern (a "name" made
# of them shows as nobody).
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Unicode categories refused anywhere in a name: controls; format characters (bidi overrides
# and isolates, zero-width characters, ...), with which a name can show as another one reversed
# or as nothing; lone surrogates; line and paragraph separators.
_REFUSED = {
    "Cc": "control characters",
    "Cf": "format characters (bidi controls, zero-width characters)",
    "Cs": "surrogates",
    "Zl": "line separators",
    "Zp": "paragraph separators",
}


def _visible(ch: str) -> bool:
    # Letters, digits, punctuation and symbols; not spaces, marks on their own, or blanks.
    return unicodedata.category(ch)[0] in "LNPS" and ch not in _BLANK_LETTERS


def _valid_name(value: str) -> str:
    """docs/protocol.md §1: NFC, trimmed, 1 to 64 characters, at least one of them visible."""
    value = unicodedata.normalize("NFC", value).strip()
    if not 1 <= len(value) <= MAX_NAME_LENGTH:
        raise ValueError(f"name must be 1 to {MAX_NAME_LENGTH} characters after trimming")
    for ch in value:
        refused = _REFUSED.get(unicodedata.category(ch))
        if refused:
            raise ValueError(f"name must not contain {refused}: U+{ord(ch):04X}")
    if not any(_visible(ch) for ch in value):
        raise ValueError("name must have at least one visible character")
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
