"""The websocket endpoint: check the token, accept, adapt the socket, hand it to the room."""

from __future__ import annotations

import contextlib
import logging

import anyio
from fastapi import APIRouter, WebSocket
from starlette.routing import WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect, WebSocketState

from crdt.awareness import Identity
from crdt.errors import AuthError, CloseConnection, ProtocolError, RoomNotFound
from crdt.ports import ConnectionClosed
from server.deps import is_room_id, services_of

log = logging.getLogger("whiteboard.ws")
router = APIRouter()


class AsgiTransport:
    """The connection's own ASGI receive and send callables as the core's Transport.

    Called directly rather than through Starlette's WebSocket: its per-message state
    checks and wrappers were a measurable share of the server's CPU at thousands of
    messages a second. The handshake and the close still go through Starlette.
    """

    def __init__(self, websocket: WebSocket, receive: Receive, send: Send) -> None:
        self._ws = websocket
        self._receive = receive
        self._send = send

    async def receive(self) -> bytes:
        message = await self._receive()
        if message["type"] != "websocket.receive":  # websocket.disconnect
            raise ConnectionClosed
        data: bytes | None = message.get("bytes")
        if data is None:
            raise ProtocolError("text frames are not part of the protocol; send binary frames")
        return data

    async def send(self, message: bytes) -> None:
        try:
            await self._send({"type": "websocket.send", "bytes": message})
        except (RuntimeError, OSError):  # uvicorn's ClientDisconnected is an OSError
            raise ConnectionClosed from None

    async def close(self, code: int, reason: str) -> None:
        if self._ws.application_state == WebSocketState.CONNECTED:
            # Any of these: the peer is already gone.
            with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
                await self._ws.close(
                    code=code, reason=reason.encode()[:120].decode(errors="ignore")
                )


async def room_socket(scope: Scope, receive: Receive, send: Send) -> None:
    """`/ws/{room_id}`: check the token, accept, and serve the connection in its room."""
    websocket = WebSocket(scope, receive, send)
    room_id: str = scope["path_params"]["room_id"]
    services = services_of(websocket.app)
    transport = AsgiTransport(websocket, receive, send)
    # Accept first: a close code can only be sent on an accepted websocket.
    await websocket.accept()
    closing: CloseConnection | None  # why we close it, if we do
    try:
        claims = services.tokens.verify(websocket.query_params.get("token"))
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


class _AsgiEndpoint:
    """Starlette hands an endpoint that is not a function the raw ASGI connection."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await room_socket(scope, receive, send)


router.routes.append(WebSocketRoute("/ws/{room_id}", _AsgiEndpoint()))
