"""One connection: its identity, an outbox bounded in messages and bytes, its pending sync
reply, and the sender task that drains them."""

from __future__ import annotations

import time
from collections import deque

import anyio

from crdt.awareness import Identity
from crdt.errors import CloseConnection, SlowClient
from crdt.ports import Transport


class Client:
    def __init__(
        self, transport: Transport, identity: Identity, *, outbox_size: int, outbox_bytes: int
    ) -> None:
        self.transport = transport
        self.identity = identity
        self.closing: CloseConnection | None = None
        self.last_sent = self.connected_at = time.monotonic()
        # When the last frame arrived (the room closes a connection silent for too long).
        self.last_received = self.connected_at
        self.done = anyio.Event()  # set once the connection is no longer served
        # A deque and one wake-up per batch rather than an anyio memory stream: the stream
        # yields to the event loop on every message it hands over, and under load (many
        # rooms, few clients each) those round trips were a large share of the server's CPU.
        self._outbox: deque[bytes | None] = deque()  # None: the sync reply's place in line
        self._outbox_size = outbox_size
        self._outbox_bytes = outbox_bytes
        self._queued_bytes = 0
        # At most one sync reply waits per connection: a newer sync step 1 replaces it.
        self._sync_reply: bytes | None = None
        self._ready = anyio.Event()
        self._open = True  # False once kicked: nothing more is queued
        self._finishing = False  # nothing more will be queued: the sender ends when done
        self._scope: anyio.CancelScope | None = None
        self._receiving: anyio.CancelScope | None = None

    def bind(self, scope: anyio.CancelScope, receiving: anyio.CancelScope) -> None:
        """The scopes that end this connection's serving (kick) and its reading (closing)."""
        self._scope = scope
        self._receiving = receiving
        # Kicked or closing before serving began (while its join was being recorded).
        if not self._open:
            scope.cancel()
        elif self.closing is not None:
            receiving.cancel()

    def enqueue(self, message: bytes) -> None:
        """Queue bytes for this client; one whose outbox is full is closed, never waited for."""
        if not self._open or self._finishing:
            return
        # One message always fits: a window's merged update may be larger than the bound.
        if len(self._outbox) >= self._outbox_size or (
            self._outbox and self._queued_bytes + len(message) > self._outbox_bytes
        ):
            self.kick(SlowClient("client is not reading fast enough; reconnect to resync"))
            return
        self._outbox.append(message)
        self._queued_bytes += len(message)
        self._ready.set()
        self.last_sent = time.monotonic()

    def send_sync_reply(self, reply: bytes) -> None:
        """Queue the answer to this connection's newest sync step 1, replacing an unsent one."""
        if not self._open or self._finishing:
            return
        if self._sync_reply is None:
            self._outbox.append(None)
        self._sync_reply = reply
        self._ready.set()
        self.last_sent = time.monotonic()

    def kick(self, reason: CloseConnection) -> None:
        """End the connection now, dropping whatever is still queued for it."""
        if self.closing is None:
            self.closing = reason
        self._open = False
        if self._scope is not None:
            self._scope.cancel()

    def stop_receiving(self, reason: CloseConnection) -> None:
        """Begin a graceful close: read nothing more; what is queued is still sent (`finish`)."""
        if self.closing is None:
            self.closing = reason
        if self._receiving is not None:
            self._receiving.cancel()

    def finish(self) -> None:
        """Nothing more will be queued: the sender ends once it has sent everything queued."""
        self._finishing = True
        self._ready.set()

    async def run_sender(self) -> None:
        while True:
            await self._ready.wait()
            self._ready = anyio.Event()
            while self._outbox:
                message = self._outbox.popleft()
                if message is None:
                    message, self._sync_reply = self._sync_reply, None
                    assert message is not None
                else:
                    self._queued_bytes -= len(message)
                await self.transport.send(message)
            if self._finishing:
                return

    def close_outbox(self) -> None:
        """Called once the sender task has ended."""
        self._open = False
        self._outbox.clear()
        self._queued_bytes = 0
        self._sync_reply = None
        self.done.set()
