"""The interfaces the sync core needs from the outside world (implemented in persistence/)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from crdt.errors import CloseConnection


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """What storage holds for a room: the snapshot and every log entry not yet folded into it."""

    updates: list[bytes]
    seqs: list[int]  # the log entries among `updates`


class DocumentStore(Protocol):
    async def load(self, room_id: str) -> StoredDocument | None:
        """The room's stored document, or None when there is no such room."""
        ...

    async def append(self, room_id: str, update: bytes) -> int:
        """Durably append one merged update to the room's log; return its sequence number."""
        ...

    async def snapshot(self, room_id: str, *, state: bytes, covered_seqs: list[int]) -> None:
        """Fold the document into the room's snapshot and drop exactly the log entries it covers.

        Several processes may snapshot one room: the stored snapshot becomes the union of
        theirs, and only entries this document is known to contain are dropped.
        """
        ...


class RoomActivity(Protocol):
    """Where the core reports who is connected (user sessions, a room's active users)."""

    async def user_seen(self, *, user_id: str) -> None: ...

    async def active_users_changed(self, *, room_id: str, count: int) -> None: ...


class FrameSink(Protocol):
    """What a Transport pushes to: the connection's side in its room (crdt/client.py)."""

    def frame_received(self, frame: bytes) -> None:
        """One binary message, handled before the call returns."""
        ...

    def frame_refused(self, reason: CloseConnection) -> None:
        """A frame the protocol does not allow (text, oversized): close with `reason`."""
        ...

    def resume_writing(self) -> None:
        """The transport takes writes again after it was `paused`."""
        ...


class Transport(Protocol):
    """One client connection, push-shaped, as the server's websocket adapters present it.

    The transport hands each frame to its sink as it arrives (every frame one read brought,
    in one go, with no task or future per frame) and takes each write at once while it is
    not `paused`; under back-pressure the client queues, bounded, until `resume_writing`.
    """

    @property
    def paused(self) -> bool:
        """True while the transport's buffer is full: write nothing more until resumed."""
        ...

    def write(self, message: bytes) -> None:
        """Send one binary message (buffered by the transport); never blocks."""
        ...

    def write_all(self, messages: Sequence[bytes]) -> None:
        """Send several binary messages in order (in one system call where it can)."""
        ...

    async def serve(self, sink: FrameSink) -> None:
        """Push every frame to `sink` until the peer has gone; returns then."""
        ...

    async def close(self, code: int, reason: str) -> None: ...


class ConnectionClosed(Exception):
    """The peer closed the connection (or it broke)."""


class StorageFull(Exception):
    """The store cannot take writes now (disk or database full).

    What it already holds stays readable, and it recovers by itself when space returns:
    the same call may simply be tried again later.
    """


class RelayKind(StrEnum):
    UPDATE = "update"
    AWARENESS = "awareness"
    RESYNC = "resync"  # the relay was away: messages may have been missed, reload from storage


@dataclass(frozen=True, slots=True)
class RelayMessage:
    kind: RelayKind
    payload: bytes = b""
    seq: int | None = None  # an update's position in the durable log


class Relay(Protocol):
    """Carries each process's merged batches to the other processes serving the same room."""

    def subscribe(self, room_id: str) -> AbstractAsyncContextManager[AsyncIterator[RelayMessage]]:
        """What other processes publish for the room from now on (never our own messages)."""
        ...

    async def publish(self, room_id: str, message: RelayMessage) -> None: ...


@dataclass(frozen=True, slots=True)
class PresenceEntry:
    user_id: str
    name: str
    color: str
    cursor: tuple[float, float] | None
    last_active_at: float  # seconds since the epoch


class PresenceStore(Protocol):
    """Who is connected to each room, across processes, and which rooms are live."""

    async def set_users(self, room_id: str, users: list[PresenceEntry]) -> list[PresenceEntry]:
        """Set this process's connected users in the room; returns every process's users."""
        ...

    async def users(self, room_id: str) -> list[PresenceEntry]:
        """Every process's users in the room."""
        ...

    async def rooms_live(self, room_ids: list[str]) -> None:
        """Heartbeat: these rooms are loaded here (keeps their live state from expiring)."""
        ...

    async def room_freed(self, room_id: str) -> None:
        """This process let the room go; its live state goes when no process holds it."""
        ...


@dataclass(frozen=True, slots=True)
class RoomPorts:
    store: DocumentStore
    activity: RoomActivity | None = None
    relay: Relay | None = None
    presence: PresenceStore | None = None
    # Called after a large document was let go (asleep, closed, snapshotted), so that the
    # process can give the freed memory back to the system (the server's process tuning).
    release_memory: Callable[[], None] | None = None
