"""One port for the REST API, the demo page and the websocket (server/listener.py): each
connection goes to uvicorn or to picows by its request head, whatever the pieces it comes in;
picows' frames reach the room whole; compression keeps the websocket on the ASGI path."""

from __future__ import annotations

import socket

import anyio
import pytest
import websockets
from pycrdt import YSyncMessageType

from tests.support.client import BoardClient
from tests.support.raw_websocket import open_unread_socket
from tests.support.servers import create_room, join_room

pytestmark = pytest.mark.anyio

STEP1_EMPTY = bytes([0, 0, 1, 0])  # sync step 1 with an empty state vector


def send_in_pieces(port: int, request: bytes) -> bytes:
    """Send a request one byte at a time; return the response head."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(request)):
            sock.sendall(request[i:i + 1])
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
        return head


async def first_sync_message(ws: websockets.ClientConnection) -> bytes:
    with anyio.fail_after(5):
        while True:
            message = await ws.recv()
            assert isinstance(message, bytes)
            if message[:1] == b"\x00":
                return message


async def test_http_and_websocket_share_the_port_even_when_the_request_head_trickles_in(server):
    room = create_room(server)
    health = send_in_pieces(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert health.startswith(b"HTTP/1.1 200"), health
    upgrade = (
        f"GET /ws/{room.room_id}?token={room.token} HTTP/1.1\r\nHost: x\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    assert send_in_pieces(server.port, upgrade).startswith(b"HTTP/1.1 101")
    # The handshake of a socket that then reads nothing, for good measure.
    open_unread_socket(server.port, f"/ws/{room.room_id}?token={room.token}").close()


async def test_paths_that_are_not_a_room_socket_are_answered_by_http(server):
    # A plain GET of the websocket path (no upgrade) and an upgrade elsewhere: uvicorn's.
    plain = send_in_pieces(server.port, b"GET /ws/abc HTTP/1.1\r\nHost: x\r\n\r\n")
    assert plain.startswith(b"HTTP/1.1 404"), plain
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(f"ws://127.0.0.1:{server.port}/elsewhere")
    assert refused.value.response.status_code in (403, 404)


async def test_a_fragmented_message_reaches_the_room_whole(server):
    room = create_room(server)
    async with websockets.connect(f"{server.ws_base}/{room.room_id}?token={room.token}") as ws:
        await first_sync_message(ws)  # the server's own sync step 1
        await ws.send([STEP1_EMPTY[:1], STEP1_EMPTY[1:3], STEP1_EMPTY[3:]])
        reply = await first_sync_message(ws)
        assert reply[:2] == bytes([0, YSyncMessageType.SYNC_STEP2])


async def test_a_fragmented_message_past_the_limit_closes_with_1009(server_factory):
    server = server_factory(WHITEBOARD_MAX_MESSAGE_BYTES="4096")
    room = create_room(server)
    async with websockets.connect(f"{server.ws_base}/{room.room_id}?token={room.token}") as ws:
        await ws.send([bytes(3000), bytes(3000)])
        with anyio.fail_after(5), pytest.raises(websockets.ConnectionClosed):
            while True:
                await ws.recv()
    assert ws.close_code == 1009


@pytest.mark.parametrize(
    ("env", "deflate"),
    [
        ({}, False),  # picows, the default: no permessage-deflate
        ({"WHITEBOARD_WS_COMPRESSION": "true"}, True),  # the ASGI path
        ({"WHITEBOARD_WS_TRANSPORT": "websockets-sansio"}, False),
        ({"WHITEBOARD_WS_TRANSPORT": "websockets"}, False),
    ],
)
async def test_every_websocket_transport_serves_a_room(server_factory, env, deflate):
    server = server_factory(**env)
    room = create_room(server)
    async with websockets.connect(f"{server.ws_base}/{room.room_id}?token={room.token}") as ws:
        assert ws.response is not None
        extensions = ws.response.headers.get("sec-websocket-extensions", "")
        assert ("permessage-deflate" in extensions) is deflate
        await first_sync_message(ws)
        await ws.send(STEP1_EMPTY)
        reply = await first_sync_message(ws)
        assert reply[:2] == bytes([0, YSyncMessageType.SYNC_STEP2])


@pytest.mark.parametrize("d_length", [60, 600, 90_000])  # frame lengths of 7, 16 and 64 bits
async def test_a_window_of_an_update_and_cursors_arrives_as_two_whole_messages(server, d_length):
    alice = create_room(server, "Alice")
    bob = join_room(server, alice.room_id, "Bob")
    stroke = {"d": "M 0 0" + " L 1 1" * (d_length // 6), "color": "#1e1e1e", "width": 2}
    async with BoardClient(alice.ws_url, alice.token) as a, BoardClient(bob.ws_url,
                                                                        bob.token) as b:
        await a.synced.wait()
        await b.synced.wait()
        # In the same window: Bob gets the merged update and the cursors in one write.
        await a.set_awareness({"user": {"name": "Alice", "color": "#e03131"},
                               "cursor": {"x": 1, "y": 2}})
        await a.draw("big", stroke)
        await b.wait_for(lambda: "big" in b.board() and any(
            (state or {}).get("cursor") == {"x": 1, "y": 2} for state in b.awareness.values()
        ))
        assert b.board()["big"].d == stroke["d"]


def test_a_connection_that_never_sends_its_request_head_is_closed(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
        sock.sendall(b"GET /ws/")  # and nothing more
        assert sock.recv(1) == b""  # the server closed it (HANDSHAKE_TIMEOUT_S)
