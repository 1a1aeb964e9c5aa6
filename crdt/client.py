"""One connection: its identity, a bounded outbox, and the sender task that drains it."""

from __future__ import annotations

import time
from collections import deque

import anyio

from crdt.awareness import Identity
from crdt.errors import CloseConnection, SlowClient
from crdt.ports import Transport


class Client:
    def __init__(self, transport: Transport, identity: Identity, *, outbox_size: int) -> None:
        self.transport = transport
        self.identity = identity
        self.closing: CloseConnection | None = None
        self.last_sent = self.connected_at = time.monotonic()
        # A deque and one wake-up per batch rather than an anyio memory stream: the stream
        # yields to the event loop on every message it hands over, and under load (many
        # rooms, few clients each) those round trips were a large share of the server's CPU.
        self._outbox: deque[bytes] = deque()
        self._outbox_size = outbox_size
        self._ready = anyio.Event()
        self._open = True
        self._scope: anyio.CancelScope | None = None

    def bind(self, scope: anyio.CancelScope) -> None:
        """The scope that ends this connection's serving when the room kicks it."""
        self._scope = scope

    def enqueue(self, message: bytes) -> None:
        """Queue bytes for this client; one whose outbox is full is closed, never waited for."""
        if self.closing is not None or not self._open:
            return
        if len(self._outbox) >= self._outbox_size:
            self.kick(SlowClient("client is not reading fast enough; reconnect to resync"))
            return
        self._outbox.append(message)
        self._ready.set()
        self.last_sent = time.monotonic()

    def kick(self, reason: CloseConnection) -> None:
        if self.closing is None:
            self.closing = reason
        if self._scope is not None:
            self._scope.cancel()

    async def run_sender(self) -> None:
        while True:
            await self._ready.wait()
            self._ready = anyio.Event()
            while self._outbox:
                await self.transport.send(self._outbox.popleft())

    def close_outbox(self) -> None:
        """Called once the sender task has ended."""
        self._open = False
        self._outbox.clear()
