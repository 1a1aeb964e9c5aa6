"""The interfaces the sync core needs from the outside world (implemented in persistence/)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from crdt.paths import PathEntry


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """What storage holds for a room: updates to apply in order, and the log position reached."""

    updates: list[bytes]
    last_seq: int


class DocumentStore(Protocol):
    async def load(self, room_id: str) -> StoredDocument | None:
        """The room's stored document, or None when there is no such room."""
        ...

    async def append(self, room_id: str, update: bytes) -> int:
        """Durably append one merged update to the room's log; return its sequence number."""
        ...

    async def snapshot(
        self, room_id: str, *, state: bytes, paths: list[PathEntry], upto_seq: int
    ) -> None:
        """Store the whole document and its path rows, then drop the log up to `upto_seq`."""
        ...


class RoomActivity(Protocol):
    """Where the core reports who is connected (user sessions, a room's active users)."""

    async def user_seen(self, *, user_id: str) -> None: ...

    async def active_users_changed(self, *, room_id: str, count: int) -> None: ...


class Transport(Protocol):
    """One client connection, as the server's websocket adapter presents it."""

    async def receive(self) -> bytes:
        """The next binary message; raises ConnectionClosed when the peer has gone."""
        ...

    async def send(self, message: bytes) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


class ConnectionClosed(Exception):
    """The peer closed the connection (or it broke)."""
