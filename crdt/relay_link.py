"""A room's link to the other processes serving it: publish its batches, apply theirs."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from crdt.ports import DocumentStore, Relay, RelayKind, RelayMessage, StoredDocument

log = logging.getLogger("whiteboard.room")


class RelayedRoom(Protocol):
    """What the link needs of its room (docs/architecture.md, "Scaling out")."""

    def apply_relayed(self, update: bytes, seq: int | None) -> None:
        """Another process's merged, logged batch."""
        ...

    def apply_relayed_awareness(self, update: bytes) -> None: ...

    def catch_up(self, stored: StoredDocument) -> None:
        """What storage holds, after the relay was away (messages may have been missed)."""
        ...


class RelayLink:
    def __init__(self, room_id: str, relay: Relay, store: DocumentStore) -> None:
        self._room_id = room_id
        self._relay = relay
        self._store = store

    def subscribe(self) -> AbstractAsyncContextManager[AsyncIterator[RelayMessage]]:
        # Subscribed before the room loads: what others publish meanwhile is not missed.
        return self._relay.subscribe(self._room_id)

    async def publish(self, update: bytes | None, seq: int | None, awareness: bytes | None) -> None:
        room = self._room_id
        try:
            if update is not None:
                await self._relay.publish(room, RelayMessage(RelayKind.UPDATE, update, seq))
            if awareness is not None:
                await self._relay.publish(room, RelayMessage(RelayKind.AWARENESS, awareness))
        except Exception:
            # The log has the update: the others catch up from it when the relay is back.
            log.warning("relay publish failed", extra={"room": self._room_id}, exc_info=True)

    async def run(self, messages: AsyncIterator[RelayMessage], room: RelayedRoom) -> None:
        """Apply what the other processes publish, until the room closes."""
        async for message in messages:
            if message.kind is RelayKind.UPDATE:
                room.apply_relayed(message.payload, message.seq)
            elif message.kind is RelayKind.AWARENESS:
                room.apply_relayed_awareness(message.payload)
            else:
                await self._catch_up(room)

    async def _catch_up(self, room: RelayedRoom) -> None:
        try:
            stored = await self._store.load(self._room_id)
        except Exception:
            log.exception("catching up from storage failed", extra={"room": self._room_id})
            return
        if stored is not None:
            room.catch_up(stored)
            log.info("room caught up from storage", extra={"room": self._room_id})
