"""One connection: its identity, a bounded outbox, and the sender task that drains it."""

from __future__ import annotations

import time

import anyio

from crdt.awareness import Identity
from crdt.errors import CloseConnection, SlowClient
from crdt.ports import Transport


class Client:
    def __init__(self, transport: Transport, identity: Identity, *, outbox_size: int) -> None:
        self.transport = transport
        self.identity = identity
        self._send, self._receive = anyio.create_memory_object_stream[bytes](outbox_size)
        self.closing: CloseConnection | None = None
        self.last_sent = self.connected_at = time.monotonic()
        self._scope: anyio.CancelScope | None = None

    def bind(self, scope: anyio.CancelScope) -> None:
        """The scope that ends this connection's serving when the room kicks it."""
        self._scope = scope

    def enqueue(self, message: bytes) -> None:
        """Queue bytes for this client; one whose outbox is full is closed, never waited for."""
        if self.closing is not None:
            return
        try:
            self._send.send_nowait(message)
        except anyio.WouldBlock:
            self.kick(SlowClient("client is not reading fast enough; reconnect to resync"))
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass
        self.last_sent = time.monotonic()

    def kick(self, reason: CloseConnection) -> None:
        if self.closing is None:
            self.closing = reason
        if self._scope is not None:
            self._scope.cancel()

    async def run_sender(self) -> None:
        async with self._receive:
            async for message in self._receive:
                await self.transport.send(message)

    def close_outbox(self) -> None:
        """Called once the sender task has ended."""
        self._send.close()
        self._receive.close()
