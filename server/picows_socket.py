"""The websocket on picows: one callback per frame, written straight to the socket.

picows (Cython) parses every frame that one read brought and calls `on_ws_frame` for each,
with no task, future or ASGI message per frame; `write` goes straight into the socket's
transport. The room's frame handler runs inside that callback (crdt/client.py). Reading is
paused until the connection is in its room, so nothing piles up meanwhile.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Sequence

from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport

from crdt.errors import CloseConnection, MessageTooLarge, ProtocolError
from crdt.ports import FrameSink

log = logging.getLogger("whiteboard.ws")


def frame_header(size: int) -> bytes:
    """The header of a final, unmasked binary frame of `size` bytes (RFC 6455 §5.2)."""
    if size < 126:
        return bytes((0x82, size))
    if size < 1 << 16:
        return struct.pack("!BBH", 0x82, 126, size)
    return struct.pack("!BBQ", 0x82, 127, size)


class PicowsTransport(WSListener):
    """One accepted websocket as the core's Transport, and picows' listener for it."""

    def __init__(
        self, *, max_message_bytes: int, opened: Callable[[PicowsTransport], None]
    ) -> None:
        super().__init__()
        self._max_message_bytes = max_message_bytes
        self._opened = opened
        self._ws: WSTransport | None = None
        self._sink: FrameSink | None = None
        self._early: list[bytes] = []  # what arrived before the connection had its room
        self._refused: CloseConnection | None = None
        self._parts: list[bytes] | None = None  # a fragmented message so far
        self._parts_bytes = 0
        self._closing = False
        self.paused = False

    @property
    def websocket(self) -> WSTransport:
        assert self._ws is not None, "not connected yet"
        return self._ws

    # -- picows' callbacks -------------------------------------------------------------------

    def on_ws_connected(self, transport: WSTransport) -> None:
        self._ws = transport
        transport.underlying_transport.pause_reading()  # until serve() has a room for it
        self._opened(self)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if kind is WSMsgType.BINARY and frame.fin and self._parts is None and not self._closing:
            self._deliver(frame.get_payload_as_bytes())  # the hot path: one whole message
        elif kind is WSMsgType.CLOSE:
            if not transport.is_close_frame_sent:
                code = frame.get_close_code()
                transport.send_close(WSCloseCode.OK if code is WSCloseCode.NO_INFO else code)
            transport.disconnect()
        elif kind in (WSMsgType.PING, WSMsgType.PONG) or self._closing:
            pass  # picows answers pings itself
        elif kind is WSMsgType.TEXT:
            self._refuse(ProtocolError("text frames are not part of the protocol; send binary"))
        else:
            self._fragment(kind, frame)

    def _fragment(self, kind: WSMsgType, frame: WSFrame) -> None:
        if kind is WSMsgType.BINARY and self._parts is None:
            self._parts, self._parts_bytes = [], 0
        elif kind is not WSMsgType.CONTINUATION or self._parts is None:
            self._refuse(ProtocolError(f"a {kind.name} frame in the middle of a message"))
            return
        self._parts.append(frame.get_payload_as_bytes())
        self._parts_bytes += frame.payload_size
        if self._parts_bytes > self._max_message_bytes:
            self._refuse(MessageTooLarge(
                f"message of over {self._parts_bytes} bytes, limit is {self._max_message_bytes}"
            ))
        elif frame.fin:
            message, self._parts = b"".join(self._parts), None
            self._deliver(message)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self._sink = None  # serve() returns: picows resolves wait_disconnected()

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        if self._sink is not None:
            self._sink.resume_writing()

    # -- the core's Transport ------------------------------------------------------------------

    def write(self, message: bytes) -> None:
        ws = self._ws
        if ws is not None and not ws.is_close_frame_sent and not ws.is_disconnected:
            ws.send(WSMsgType.BINARY, message)

    def write_all(self, messages: Sequence[bytes]) -> None:
        ws = self._ws
        if ws is None or ws.is_close_frame_sent or ws.is_disconnected:
            return
        if len(messages) == 1:
            ws.send(WSMsgType.BINARY, messages[0])
            return
        # Framed here (a server's frames are not masked) so that the window's messages go
        # out in one writev, the payloads uncopied.
        pieces: list[bytes] = []
        for message in messages:
            pieces.append(frame_header(len(message)))
            pieces.append(message)
        ws.underlying_transport.writelines(pieces)

    async def serve(self, sink: FrameSink) -> None:
        ws = self.websocket
        if ws.is_disconnected:
            return
        self._sink = sink
        early, self._early = self._early, []
        for message in early:
            self._deliver(message)
        if self._refused is not None:
            sink.frame_refused(self._refused)
        ws.underlying_transport.resume_reading()
        await ws.wait_disconnected()

    async def close(self, code: int, reason: str) -> None:
        """Send the close frame and wait for the peer's (the caller bounds the wait)."""
        ws = self._ws
        if ws is None or ws.is_disconnected:
            return
        self._closing = True  # from now on only the peer's close frame counts
        self._sink = None
        try:
            if not ws.is_close_frame_sent:
                ws.send_close(WSCloseCode(code), reason.encode()[:120])
                ws.underlying_transport.resume_reading()  # to hear the peer's close frame
            await ws.wait_disconnected()
        finally:
            if not ws.is_disconnected:  # a peer that does not answer (or read) is cut off
                ws.disconnect(graceful=False)

    # -- helpers -------------------------------------------------------------------------------

    def _deliver(self, message: bytes) -> None:
        sink = self._sink
        if sink is None:
            if not self._closing:
                self._early.append(message)
            return
        try:
            sink.frame_received(message)
        except Exception:  # a bug: close this connection, never carry on
            log.exception("frame handler failed")
            sink.frame_refused(CloseConnection("internal error", 1011))

    def _refuse(self, reason: CloseConnection) -> None:
        self._parts = None
        if self._sink is not None:
            self._sink.frame_refused(reason)
        elif self._refused is None:
            self._refused = reason
