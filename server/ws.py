"""The websocket endpoint: check the token, accept, hand the connection to its room.

`serve_socket` is the same for both transports: picows on the server's one port
(server/listener.py, server/picows_socket.py, the default) and the ASGI route below, which
serves the websocket when compression is on (picows has no permessage-deflate) or when
WHITEBOARD_WS_TRANSPORT chooses uvicorn's.
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from collections.abc import Sequence

import anyio
from fastapi import APIRouter, WebSocket
from starlette.routing import WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect, WebSocketState

from crdt.awareness import Identity
from crdt.errors import AuthError, CloseConnection, ProtocolError, RoomNotFound
from crdt.ports import FrameSink, Transport
from server.deps import Services, is_room_id, services_of

log = logging.getLogger("whiteboard.ws")
router = APIRouter()


class AsgiTransport:
    """The connection's own ASGI receive and send callables as the core's Transport.

    Called directly rather than through Starlette's WebSocket: its per-message state
    checks and wrappers were a measurable share of the server's CPU at thousands of
    messages a second. ASGI sends are awaited, so one is in flight at a time: the
    transport is `paused` meanwhile and the client queues (bounded) until it resumes.
    The handshake and the close still go through Starlette.
    """

    def __init__(self, websocket: WebSocket, receive: Receive, send: Send) -> None:
        self._ws = websocket
        self._receive = receive
        self._send = send
        self._sending: deque[bytes] = deque()
        self._wake = anyio.Event()
        self.paused = False

    def write(self, message: bytes) -> None:
        self._sending.append(message)
        self.paused = True
        self._wake.set()

    def write_all(self, messages: Sequence[bytes]) -> None:
        self._sending.extend(messages)
        self.paused = True
        self._wake.set()

    async def serve(self, sink: FrameSink) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._send_written, sink, tg.cancel_scope)
            while True:
                message = await self._receive()
                if message["type"] != "websocket.receive":  # websocket.disconnect
                    break
                data: bytes | None = message.get("bytes")
                if data is None:
                    sink.frame_refused(ProtocolError(
                        "text frames are not part of the protocol; send binary frames"
                    ))
                else:
                    sink.frame_received(data)
            tg.cancel_scope.cancel()

    async def _send_written(self, sink: FrameSink, served: anyio.CancelScope) -> None:
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            while self._sending:
                try:
                    await self._send({"type": "websocket.send", "bytes": self._sending[0]})
                except (RuntimeError, OSError):  # uvicorn's ClientDisconnected is an OSError
                    served.cancel()  # the peer has gone
                    return
                self._sending.popleft()
            self.paused = False
            sink.resume_writing()

    async def close(self, code: int, reason: str) -> None:
        if self._ws.application_state == WebSocketState.CONNECTED:
            # Any of these: the peer is already gone.
            with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
                await self._ws.close(
                    code=code, reason=reason.encode()[:120].decode(errors="ignore")
                )


async def serve_socket(
    services: Services, room_id: str, token: str | None, transport: Transport
) -> None:
    """Check the token, serve the accepted connection in its room, close it with its code."""
    closing: CloseConnection | None  # why we close it, if we do
    try:
        claims = services.tokens.verify(token)
        if claims.room_id != room_id.lower():
            raise AuthError("token is for another room", 4403)
        if not is_room_id(room_id):
            raise RoomNotFound("no such room")
        identity = Identity(user_id=claims.user_id, name=claims.name)
        closing = await services.rooms.serve(room_id.lower(), transport, identity)
    except CloseConnection as exc:
        closing = exc
    if closing is not None:
        log.info(
            "connection closed",
            extra={"room": room_id, "code": closing.code, "reason": closing.reason},
        )
    # A client that stopped reading may never take the close frame: don't wait on it forever,
    # and only briefly while the server stops (1012): its shutdown has a deadline.
    restarting = closing is not None and closing.code == 1012
    with anyio.move_on_after(1 if restarting else 5):
        await transport.close(*((closing.code, closing.reason) if closing else (1000, "")))


async def room_socket(scope: Scope, receive: Receive, send: Send) -> None:
    """`/ws/{room_id}` on the ASGI path: accept, then `serve_socket`."""
    websocket = WebSocket(scope, receive, send)
    room_id: str = scope["path_params"]["room_id"]
    # Accept first: a close code can only be sent on an accepted websocket.
    await websocket.accept()
    await serve_socket(
        services_of(websocket.app), room_id, websocket.query_params.get("token"),
        AsgiTransport(websocket, receive, send),
    )


class _AsgiEndpoint:
    """Starlette hands an endpoint that is not a function the raw ASGI connection."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await room_socket(scope, receive, send)


router.routes.append(WebSocketRoute("/ws/{room_id}", _AsgiEndpoint()))
