"""docs/protocol.md §8: a connection from which nothing arrives for SILENCE_TIMEOUT_S is
closed (4408), so a gone or half-open peer leaves presence; a client that talks stays."""

from __future__ import annotations

import json
import socket
import struct
import time

import anyio
import httpx
import pytest
import websockets
from pycrdt import Doc, Encoder, create_awareness_message, create_sync_message

from tests.support.client import BoardClient
from tests.support.raw_websocket import masked_binary_frame, open_unread_socket
from tests.support.servers import create_room, join_room, realtime_env, redis_prefix
from tests.support.waiting import until

pytestmark = pytest.mark.anyio

SILENCE_S = 2.0  # WHITEBOARD_SILENCE_TIMEOUT_S for these tests (30 by default)


def awareness_of(doc: Doc, name: str) -> bytes:
    encoder = Encoder()
    encoder.write_var_uint(1)
    encoder.write_var_uint(doc.client_id)
    encoder.write_var_uint(1)
    encoder.write_var_string(json.dumps({"user": {"name": name}, "cursor": {"x": 1, "y": 2}}))
    return create_awareness_message(encoder.to_bytes())


def present(server, room_id: str, token: str) -> set[str]:
    response = httpx.get(f"{server.base_url}/api/rooms/{room_id}/presence",
                         headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return {user["name"] for user in response.json()["users"]}


async def until_present(server, room_id: str, token: str, expected: set[str],
                        timeout: float) -> None:
    await until(lambda: present(server, room_id, token) == expected, timeout=timeout,
                what=f"presence {sorted(expected)}")


async def talk_every_second(client: BoardClient) -> None:
    while True:
        await client.set_awareness({"user": {"name": "Talker"}, "cursor": {"x": 0, "y": 0}})
        await anyio.sleep(1)  # the talker's pace (under test): a message a second


async def test_a_connection_that_sends_nothing_is_closed_with_4408_and_a_talker_stays(
    server_factory,
):
    server = server_factory(WHITEBOARD_SILENCE_TIMEOUT_S=str(SILENCE_S))
    talker = create_room(server, "Talker")
    quiet = join_room(server, talker.room_id, "Quiet")
    async with BoardClient(talker.ws_url, talker.token) as t, anyio.create_task_group() as tg:
        await t.synced.wait()
        tg.start_soon(talk_every_second, t)
        # Keepalive pings off: pongs would not count anyway; only messages do.
        async with websockets.connect(f"{quiet.ws_url}?token={quiet.token}",
                                      ping_interval=None, max_size=None) as ws:
            doc = Doc()
            await ws.send(create_sync_message(doc))
            await ws.send(awareness_of(doc, "Quiet"))
            last_sent = time.monotonic()
            with anyio.fail_after(5):
                while (await ws.recv())[:2] != b"\x00\x01":  # synced: its sync step 2
                    pass
            await until_present(server, talker.room_id, talker.token, {"Talker", "Quiet"}, 5)
            with anyio.fail_after(SILENCE_S + 3):
                try:
                    while True:
                        await ws.recv()  # read everything, send nothing
                except websockets.ConnectionClosed:
                    pass
            silent_for = time.monotonic() - last_sent
        assert ws.close_code == 4408, (ws.close_code, ws.close_reason)
        assert silent_for >= SILENCE_S, f"closed after {silent_for:.2f} s of silence"
        await until_present(server, talker.room_id, talker.token, {"Talker"}, 3)
        # The talker, connected for more than twice the timeout by now, stays.
        with anyio.move_on_after(max(0.0, 3 * SILENCE_S - (time.monotonic() - last_sent))):
            await t.wait_for(lambda: t.close_code is not None, timeout=60)
        assert t.close_code is None
        tg.cancel_scope.cancel()


def half_open_socket(port: int, path: str, frames: list[bytes]) -> socket.socket:
    """A websocket client that completes the handshake, sends `frames`, and then neither
    reads nor writes again, without closing (as if its network had gone)."""
    sock = open_unread_socket(port, path)
    for payload in frames:
        sock.sendall(masked_binary_frame(payload))
    return sock


def close_code_in(stream: bytes) -> int | None:
    """The code of the close frame among the server's (unmasked) frames, if there is one."""
    at = 0
    while at + 2 <= len(stream):
        opcode, size = stream[at] & 0x0F, stream[at + 1] & 0x7F
        at += 2
        if size == 126:
            size, at = struct.unpack("!H", stream[at:at + 2])[0], at + 2
        elif size == 127:
            size, at = struct.unpack("!Q", stream[at:at + 8])[0], at + 8
        if opcode == 0x8:
            return struct.unpack("!H", stream[at:at + 2])[0] if size >= 2 else None
        at += size
    return None


def read_all(sock: socket.socket) -> bytes:
    received = b""
    sock.settimeout(5)
    try:
        while close_code_in(received) is None and (chunk := sock.recv(65536)):
            received += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return received


@pytest.mark.parametrize("realtime", ["local", "redis"])
async def test_a_half_open_connection_leaves_presence_within_the_timeout_and_5_s(
    server_factory, realtime,
):
    with redis_prefix() as prefix:
        server = server_factory(WHITEBOARD_SILENCE_TIMEOUT_S=str(SILENCE_S),
                                **realtime_env(realtime, prefix))
        owner = create_room(server, "Owner")
        gone = join_room(server, owner.room_id, "Gone")
        doc = Doc()
        sock = await anyio.to_thread.run_sync(
            half_open_socket, server.port, f"/ws/{owner.room_id}?token={gone.token}",
            [create_sync_message(doc), awareness_of(doc, "Gone")],
        )
        went_quiet = time.monotonic()
        try:
            await until_present(server, owner.room_id, owner.token, {"Gone"}, 5)
            await until_present(server, owner.room_id, owner.token, set(),
                                SILENCE_S + 5 - (time.monotonic() - went_quiet))
            assert time.monotonic() - went_quiet >= SILENCE_S
            # Reading now, after the fact: the server did close it, with 4408.
            assert close_code_in(await anyio.to_thread.run_sync(read_all, sock)) == 4408
        finally:
            sock.close()
