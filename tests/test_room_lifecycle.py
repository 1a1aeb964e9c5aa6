"""A room loads once however many join at once; quiet clients stay connected; slow ones go."""

from __future__ import annotations

import time

import anyio
import httpx
import pytest

from tests.support.client import BoardClient, introduce
from tests.support.metrics import metric
from tests.support.raw_websocket import open_unread_socket
from tests.support.servers import create_room, join_room
from tests.support.waiting import until

pytestmark = pytest.mark.anyio
STROKE = {"d": "M 0 0 L 5 5", "color": "#000000", "width": 1}


async def test_twenty_clients_joining_an_unloaded_room_at_once_all_sync(server_factory):
    server = server_factory()
    owner = create_room(server, "Owner")
    async with BoardClient(owner.ws_url, owner.token) as a:
        await a.synced.wait()
        await a.draw("existing", STROKE)
        await a.wait_for_echo()  # merged and in the log
    # Restart so that the room is not in memory: every join below races to load it.
    server.stop()
    server.start()
    tokens = [join_room(server, owner.room_id, f"U{i}") for i in range(20)]
    ready = 0
    all_ready = anyio.Event()

    async def user(t):
        nonlocal ready
        async with BoardClient(t.ws_url, t.token) as c:
            await c.wait_for(lambda: "existing" in c.board())
            ready += 1
            if ready == len(tokens):
                all_ready.set()
            await c.wait_for(lambda: "after" in c.board())

    with anyio.fail_after(15):
        async with anyio.create_task_group() as tg:
            for t in tokens:
                tg.start_soon(user, t)
            await all_ready.wait()
            async with BoardClient(owner.ws_url, owner.token) as a:
                await a.synced.wait()
                await a.draw("after", STROKE)
                await a.wait_for_echo()
    metrics = httpx.get(f"{server.base_url}/metrics").text
    assert "whiteboard_rooms_loaded_total 1.0" in metrics


async def test_a_client_alone_in_a_quiet_room_still_hears_from_the_server(server_factory):
    server = server_factory(WHITEBOARD_HEARTBEAT_S="1")
    room = create_room(server)
    async with BoardClient(room.ws_url, room.token) as a:
        await a.synced.wait()
        await introduce(a)  # the handshake is over: the next message is the heartbeat
        quiet_since = time.monotonic()
        await a.wait_for(lambda: any(t > quiet_since for t, _ in a.received), timeout=5)
        assert a.close_code is None


async def test_a_client_that_does_not_read_is_closed_and_the_room_goes_on(server_factory):
    server = server_factory(WHITEBOARD_OUTBOX_SIZE="4", WHITEBOARD_SNAPSHOT_INTERVAL_S="3600")
    writer = create_room(server, "Writer")
    reader = join_room(server, writer.room_id, "Reader")
    sloth = join_room(server, writer.room_id, "Sloth")
    slow = open_unread_socket(server.port, f"/ws/{writer.room_id}?token={sloth.token}")
    try:
        async with (
            BoardClient(writer.ws_url, writer.token) as w,
            BoardClient(reader.ws_url, reader.token) as r,
        ):
            await w.synced.wait()
            await r.synced.wait()
            big = "M 0 0 " + "L 1 1 " * 40_000
            for i in range(40):
                await w.draw(f"big{i}", {**STROKE, "d": big})
                await w.wait_for_echo(timeout=30)  # one window each: separate broadcasts
            await r.wait_for(lambda: len(r.board()) == 40, timeout=60)
            await until(lambda: metric(server, "whiteboard_clients_kicked_slow_total") >= 1,
                        timeout=30, what="the client that does not read is kicked")
            assert metric(server, "whiteboard_clients_connected") == 2
            await w.draw("after-kick", STROKE)
            await r.wait_for(lambda: "after-kick" in r.board())
            assert w.close_code is None and r.close_code is None
    finally:
        slow.close()
