"""A room loads once however many join at once; quiet clients stay connected; slow ones go."""

from __future__ import annotations

import time

import anyio
import httpx
import pytest

from tests.support.client import BoardClient
from tests.support.raw_websocket import open_unread_socket
from tests.support.servers import create_room, join_room

pytestmark = pytest.mark.anyio
STROKE = {"d": "M 0 0 L 5 5", "color": "#000000", "width": 1}


async def test_twenty_clients_joining_an_unloaded_room_at_once_all_sync(server_factory):
    server = server_factory()
    owner = create_room(server, "Owner")
    async with BoardClient(owner.ws_url, owner.token) as a:
        await a.synced.wait()
        await a.draw("existing", STROKE)
        await anyio.sleep(0.3)
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
                await a.wait_for(lambda: len(a.received) > 2)
    metrics = httpx.get(f"{server.base_url}/metrics").text
    assert "whiteboard_rooms_loaded_total 1.0" in metrics


async def test_a_client_alone_in_a_quiet_room_still_hears_from_the_server(server_factory):
    server = server_factory(WHITEBOARD_HEARTBEAT_S="1")
    room = create_room(server)
    async with BoardClient(room.ws_url, room.token) as a:
        await a.synced.wait()
        await anyio.sleep(0.5)
        quiet_since = time.monotonic()
        await a.wait_for(lambda: any(t > quiet_since for t, _ in a.received), timeout=5)
        assert a.close_code is None


def metric(server, name: str) -> float:
    for line in httpx.get(f"{server.base_url}/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no metric {name}")


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
                await anyio.sleep(0.11)
            await r.wait_for(lambda: len(r.board()) == 40, timeout=60)
            with anyio.fail_after(30):
                while metric(server, "whiteboard_clients_kicked_slow_total") < 1:
                    await anyio.sleep(0.1)
            assert metric(server, "whiteboard_clients_connected") == 2
            await w.draw("after-kick", STROKE)
            await r.wait_for(lambda: "after-kick" in r.board())
            assert w.close_code is None and r.close_code is None
    finally:
        slow.close()
