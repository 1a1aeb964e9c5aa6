"""One connection: its identity, an outbox bounded in messages and bytes, its pending sync
reply, the sender task that drains them and the loop that reads it."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

import anyio

from crdt import protocol
from crdt.awareness import Identity
from crdt.errors import (
    CloseConnection,
    MessageTooLarge,
    ProtocolError,
    SilentClient,
    SlowClient,
)
from crdt.ports import ConnectionClosed, Transport
from crdt.stats import Stats

# Sent when nothing else was for a while: the stock y-websocket client drops a connection
# that hears nothing for 30 s.
EMPTY_AWARENESS = protocol.awareness(b"\x00")
# Frames one connection handles before letting the others run: a client that sends a
# burst must not hold the event loop for all of it.
FRAMES_PER_TURN = 16


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

    def send_sync_reply(self, reply: bytes) -> None:
        """Queue the answer to this connection's newest sync step 1, replacing an unsent one."""
        if not self._open or self._finishing:
            return
        if self._sync_reply is None:
            self._outbox.append(None)
        self._sync_reply = reply
        self._ready.set()

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

    async def run_receiver(
        self, handle: Callable[[bytes], None], *, max_message_bytes: int, stats: Stats
    ) -> None:
        """Read frames and hand each to `handle` until the peer goes or a frame is refused."""
        handled = 0
        now = time.monotonic
        try:
            while True:
                frame = await self.transport.receive()
                self.last_received = now()
                stats.messages_received += 1
                if len(frame) > max_message_bytes:
                    raise MessageTooLarge(
                        f"message of {len(frame)} bytes, limit is {max_message_bytes}"
                    )
                handle(frame)
                handled += 1
                if handled % FRAMES_PER_TURN == 0:
                    # Frames already buffered are received without a pause: yield now and then.
                    await anyio.lowlevel.checkpoint()
        except ConnectionClosed:
            return
        except CloseConnection as exc:
            if isinstance(exc, ProtocolError):
                stats.protocol_errors += 1
            self.kick(exc)

    def check_alive(
        self, now: float, *, reading: bool, silence_timeout_s: float, heartbeat_s: float
    ) -> None:
        """Close a connection silent for too long; keep a quiet one's client from giving up."""
        if reading and now - self.last_received >= silence_timeout_s:
            self.kick(SilentClient(f"nothing received for {silence_timeout_s:g} s; reconnect"))
        elif now - self.last_sent >= heartbeat_s:
            self.enqueue(EMPTY_AWARENESS)

    async def run_sender(self) -> None:
        """Send what is queued, as it is queued, until kicked or finished."""
        try:
            await self._send_queued()
        except (ConnectionClosed, OSError, RuntimeError) as exc:
            self.kick(CloseConnection(f"send failed: {exc}", 1011))

    async def _send_queued(self) -> None:
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
                self.last_sent = time.monotonic()
            if self._finishing:
                return

    def close_outbox(self) -> None:
        """Called once the sender task has ended."""
        self._open = False
        self._outbox.clear()
        self._queued_bytes = 0
        self._sync_reply = None
        self.done.set()
