"""The websocket endpoint: check the token, accept, adapt the socket, hand it to the room."""

from __future__ import annotations

import logging

import anyio
from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from crdt.awareness import Identity
from crdt.errors import AuthError, CloseConnection, ProtocolError, RoomNotFound
from crdt.ports import ConnectionClosed
from server.deps import is_room_id, services_of

log = logging.getLogger("whiteboard.ws")
router = APIRouter()


class StarletteTransport:
    """Starlette's WebSocket as the core's Transport."""

    def __init__(self, websocket: WebSocket) -> None:
        self._ws = websocket

    async def receive(self) -> bytes:
        try:
            message = await self._ws.receive()
        except (WebSocketDisconnect, RuntimeError):
            raise ConnectionClosed from None
        if message["type"] == "websocket.disconnect":
            raise ConnectionClosed
        data = message.get("bytes")
        if data is None:
            raise ProtocolError("text frames are not part of the protocol; send binary frames")
        return data

    async def send(self, message: bytes) -> None:
        try:
            await self._ws.send_bytes(message)
        except (WebSocketDisconnect, RuntimeError, OSError):
            raise ConnectionClosed from None

    async def close(self, code: int, reason: str) -> None:
        if self._ws.application_state == WebSocketState.CONNECTED:
            try:
                await self._ws.close(
                    code=code, reason=reason.encode()[:120].decode(errors="ignore")
                )
            except (WebSocketDisconnect, RuntimeError, OSError):
                pass  # the peer is already gone


@router.websocket("/ws/{room_id}")
async def room_socket(websocket: WebSocket, room_id: str) -> None:
    services = services_of(websocket.app)
    transport = StarletteTransport(websocket)
    # Accept first: a close code can only be sent on an accepted websocket.
    await websocket.accept()
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
    # A client that stopped reading may never take the close frame: don't wait on it forever.
    with anyio.move_on_after(5):
        await transport.close(*((closing.code, closing.reason) if closing else (1000, "")))
