"""A room's link to the other processes serving it: publish its batches, apply theirs."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from pycrdt import Doc

from crdt import protocol
from crdt.awareness import RoomAwareness
from crdt.origin import Origin
from crdt.ports import RelayKind, RelayMessage, RoomPorts
from crdt.stats import Stats

log = logging.getLogger("whiteboard.room")


class RelayLink:
    """Mixed into Room: the relay side of a room (docs/architecture.md, "Scaling out")."""

    id: str
    awareness: RoomAwareness
    stats: Stats
    _ports: RoomPorts
    _covered: list[int]

    if TYPE_CHECKING:  # provided by Room

        @property
        def doc(self) -> Doc: ...

        def _broadcast(self, message: bytes) -> None: ...
        def _open_window(self) -> None: ...
        def _apply_stored(self, updates: list[bytes], origin: Origin) -> None: ...

    async def _publish(self, update: bytes | None, seq: int | None, awareness: bytes | None):
        relay = self._ports.relay
        if relay is None:
            return
        try:
            if update is not None:
                await relay.publish(self.id, RelayMessage(RelayKind.UPDATE, update, seq))
            if awareness is not None:
                await relay.publish(self.id, RelayMessage(RelayKind.AWARENESS, awareness))
        except Exception:
            # The log has the update: the others catch up from it when the relay is back.
            log.warning("relay publish failed", extra={"room": self.id}, exc_info=True)

    async def _relay_loop(self, messages: AsyncIterator[RelayMessage]) -> None:
        async for message in messages:
            if message.kind is RelayKind.UPDATE:
                self._apply_relayed_update(message)
                continue
            if message.kind is RelayKind.AWARENESS:
                self.awareness.apply_remote(message.payload, now=time.monotonic())
            else:
                await self._catch_up()
            self._open_window()

    def _apply_relayed_update(self, message: RelayMessage) -> None:
        """Apply another process's merged batch and pass the same bytes straight on.

        It was batched and logged over there already: waiting for a window here too
        would only add up to a window of latency across processes.
        """
        try:
            with self.doc.transaction(origin=Origin.RELAY):
                self.doc.apply_update(message.payload)
        except ValueError:
            log.warning("undecodable relayed update", extra={"room": self.id})
            return
        if message.seq is not None:
            self._covered.append(message.seq)
        self.stats.batches_broadcast += 1
        self._broadcast(protocol.sync_update(message.payload))

    async def _catch_up(self) -> None:
        """Reload from storage what other processes logged while the relay was away."""
        try:
            stored = await self._ports.store.load(self.id)
        except Exception:
            log.exception("catching up from storage failed", extra={"room": self.id})
            return
        if stored is not None:
            self._apply_stored(stored.updates, Origin.RELAY)
            self._covered.extend(stored.seqs)
            log.info("room caught up from storage", extra={"room": self.id})
