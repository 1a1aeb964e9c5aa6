"""docs/protocol.md §2: every close code, in its order, and a bad message closes only its sender."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest
import websockets

from tests.support.client import BoardClient
from tests.support.servers import FAST_ENV, create_room, join_room

pytestmark = pytest.mark.anyio
SECRET = FAST_ENV["WHITEBOARD_JWT_SECRET"]


async def close_code_for(url: str, send: bytes | str | None = None) -> int | None:
    async with websockets.connect(url, max_size=None) as ws:
        if send is not None:
            await ws.send(send)
        try:
            while True:
                await ws.recv()
        except websockets.ConnectionClosed:
            pass
        return ws.close_code


def token_for(room_id: str, **overrides) -> str:
    now = int(time.time())
    claims = {"sub": "u", "name": "N", "room": room_id, "iat": now, "exp": now + 60, **overrides}
    return jwt.encode(claims, SECRET, algorithm="HS256")


async def test_a_missing_or_bad_token_closes_with_4401(server):
    room = create_room(server)
    assert await close_code_for(f"{server.ws_base}/{room.room_id}") == 4401
    assert await close_code_for(f"{server.ws_base}/{room.room_id}?token=nonsense") == 4401
    expired = token_for(room.room_id, exp=int(time.time()) - 5)
    assert await close_code_for(f"{server.ws_base}/{room.room_id}?token={expired}") == 4401
    # A bad token is 4401 even where the room does not exist.
    assert await close_code_for(f"{server.ws_base}/{uuid.uuid4()}?token=nonsense") == 4401


async def test_a_token_for_another_room_closes_with_4403(server):
    room = create_room(server)
    other = create_room(server)
    assert await close_code_for(f"{server.ws_base}/{other.room_id}?token={room.token}") == 4403


async def test_a_room_that_does_not_exist_closes_with_4404(server):
    missing = str(uuid.uuid4())
    url = f"{server.ws_base}/{missing}?token={token_for(missing)}"
    assert await close_code_for(url) == 4404


@pytest.mark.parametrize(
    "message",
    [b"", b"\x07", b"\x00\x09\x00", b"\x00\x02\x05ab", b"\x00\x02\x03zzz", b"\x01\x05\x01",
     "text frame"],
    ids=["empty", "unknown-type", "unknown-sync-type", "truncated", "undecodable-update",
         "truncated-awareness", "text"],
)
async def test_a_malformed_message_closes_with_4400(server, message):
    room = create_room(server)
    assert await close_code_for(f"{room.ws_url}?token={room.token}", message) == 4400


async def test_a_message_over_the_size_limit_closes_with_1009(server_factory):
    small = server_factory(WHITEBOARD_MAX_MESSAGE_BYTES="2048")
    room = create_room(small)
    big_awareness = b"\x01" + b"\x80\x20" + b"\x00" * 4096
    assert await close_code_for(f"{room.ws_url}?token={room.token}", big_awareness) == 1009


async def test_a_bad_message_closes_only_its_own_connection(server):
    alice = create_room(server, "Alice")
    bob = join_room(server, alice.room_id, "Bob")
    async with BoardClient(alice.ws_url, alice.token) as a, BoardClient(bob.ws_url, bob.token) as b:
        await a.synced.wait()
        await b.synced.wait()
        await b.send(b"\x00\x02\x03zzz")
        assert await b.wait_closed() == 4400
        await a.draw("still-here", {"d": "M 0 0 L 1 1", "color": "#000000", "width": 1})
        async with BoardClient(bob.ws_url, bob.token) as b2:
            await b2.wait_for(lambda: "still-here" in b2.board())
        assert a.close_code is None
