"""One connection: its identity, what it sends handed to the room as it arrives, and what
the room sends written straight to its transport, queued (bounded) only under back-pressure."""

from __future__ import annotations

import logging
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
from crdt.ports import Transport
from crdt.stats import Stats

log = logging.getLogger("whiteboard.room")

# Sent when nothing else was for a while: the stock y-websocket client drops a connection
# that hears nothing for 30 s.
EMPTY_AWARENESS = protocol.awareness(b"\x00")


class Client:
    """The core's FrameSink for one connection (crdt/ports.py).

    No task and no queue per message: the transport calls `frame_received` for each frame
    (the room's handler is synchronous), and `enqueue` writes to the transport at once while
    it is not paused. Only then does the outbox fill, bounded in messages and bytes; it is
    drained on `resume_writing`, and a client that lets it fill up is closed (1013).
    """

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
        self._outbox: deque[bytes | None] = deque()  # None: the sync reply's place in line
        self._outbox_size = outbox_size
        self._outbox_bytes = outbox_bytes
        self._queued_bytes = 0
        # At most one sync reply waits per connection: a newer sync step 1 replaces it.
        self._sync_reply: bytes | None = None
        self._open = True  # False once kicked: nothing more is sent or handled
        self._reading = True  # False once closing: frames are no longer handled
        self._finishing = False  # nothing more will be queued: serving ends once it is sent
        self._scope: anyio.CancelScope | None = None
        self._handle: Callable[[bytes], None] | None = None
        self._max_message_bytes = 0
        self._stats = Stats()

    # -- serving -------------------------------------------------------------------------

    async def serve(
        self, handle: Callable[[bytes], None], *, max_message_bytes: int, stats: Stats
    ) -> None:
        """Hand every frame to `handle` until the peer goes, or the client is kicked or done."""
        self._handle = handle
        self._max_message_bytes = max_message_bytes
        self._stats = stats
        with anyio.CancelScope() as scope:
            self._scope = scope
            # Kicked or finished before serving began (while its join was being recorded).
            if not self._open or self._sent_all():
                scope.cancel()
            await self.transport.serve(self)

    def frame_received(self, frame: bytes) -> None:
        if not self._reading or not self._open or self._handle is None:
            return
        self.last_received = time.monotonic()
        self._stats.messages_received += 1
        try:
            if len(frame) > self._max_message_bytes:
                raise MessageTooLarge(
                    f"message of {len(frame)} bytes, limit is {self._max_message_bytes}"
                )
            self._handle(frame)
        except CloseConnection as exc:
            self.frame_refused(exc)

    def frame_refused(self, reason: CloseConnection) -> None:
        if isinstance(reason, ProtocolError):
            self._stats.protocol_errors += 1
        self.kick(reason)

    # -- sending -------------------------------------------------------------------------

    def enqueue(self, message: bytes) -> None:
        """Send bytes to this client; one whose outbox is full is closed, never waited for."""
        if not self._open or self._finishing:
            return
        if not self._outbox and not self.transport.paused:
            self._write(message)
            return
        # One message always fits: a window's merged update may be larger than the bound.
        if len(self._outbox) >= self._outbox_size or (
            self._outbox and self._queued_bytes + len(message) > self._outbox_bytes
        ):
            self.kick(SlowClient("client is not reading fast enough; reconnect to resync"))
            return
        self._outbox.append(message)
        self._queued_bytes += len(message)

    def enqueue_all(self, messages: list[bytes]) -> None:
        """`enqueue` each of `messages`, in one write to the transport while it takes data."""
        if not self._open or self._finishing:
            return
        if not self._outbox and not self.transport.paused:
            self.transport.write_all(messages)
            self.last_sent = time.monotonic()
            return
        for message in messages:
            self.enqueue(message)

    def send_sync_reply(self, reply: bytes) -> None:
        """Send the answer to this connection's newest sync step 1 (replacing an unsent one)."""
        if not self._open or self._finishing:
            return
        if not self._outbox and not self.transport.paused:
            self._write(reply)
            return
        if self._sync_reply is None:
            self._outbox.append(None)
        self._sync_reply = reply

    def resume_writing(self) -> None:
        """The transport takes data again: send what queued meanwhile, while it does."""
        outbox = self._outbox
        while outbox and self._open and not self.transport.paused:
            message = outbox.popleft()
            if message is None:
                message, self._sync_reply = self._sync_reply, None
                assert message is not None
            else:
                self._queued_bytes -= len(message)
            self._write(message)
        if self._sent_all() and self._scope is not None:
            self._scope.cancel()

    def _write(self, message: bytes) -> None:
        self.transport.write(message)
        self.last_sent = time.monotonic()

    def _sent_all(self) -> bool:
        return self._finishing and not self._outbox and not self.transport.paused

    # -- ending --------------------------------------------------------------------------

    def kick(self, reason: CloseConnection) -> None:
        """End the connection now, dropping whatever is still queued for it."""
        if self.closing is None:
            self.closing = reason
        self._open = False
        if self._scope is not None:
            self._scope.cancel()

    def stop_receiving(self, reason: CloseConnection) -> None:
        """Begin a graceful close: handle nothing more; what is queued is still sent."""
        if self.closing is None:
            self.closing = reason
        self._reading = False

    def finish(self) -> None:
        """Nothing more will be queued: serving ends once everything queued is sent."""
        self._finishing = True
        if self._sent_all() and self._scope is not None:
            self._scope.cancel()

    def check_alive(
        self, now: float, *, reading: bool, silence_timeout_s: float, heartbeat_s: float
    ) -> None:
        """Close a connection silent for too long; keep a quiet one's client from giving up."""
        if reading and now - self.last_received >= silence_timeout_s:
            self.kick(SilentClient(f"nothing received for {silence_timeout_s:g} s; reconnect"))
        elif now - self.last_sent >= heartbeat_s:
            self.enqueue(EMPTY_AWARENESS)

    def close_outbox(self) -> None:
        """Called once serving has ended."""
        self._open = False
        self._outbox.clear()
        self._queued_bytes = 0
        self._sync_reply = None
        self.done.set()
