"""Two or more Python clients in one room see each other's strokes."""

from __future__ import annotations

from contextlib import AsyncExitStack

import pytest

from tests.support.client import BoardClient
from tests.support.servers import create_room, join_room

pytestmark = pytest.mark.anyio

STROKE = {"d": "M 10 10 L 20 20", "color": "#1e1e1e", "width": 2}


async def test_a_stroke_drawn_by_one_client_reaches_the_other(server):
    alice = create_room(server, "Alice")
    bob = join_room(server, alice.room_id, "Bob")
    async with BoardClient(alice.ws_url, alice.token) as a, BoardClient(bob.ws_url, bob.token) as b:
        await a.synced.wait()
        await b.synced.wait()
        await a.draw("stroke-1", STROKE)
        await b.wait_for(lambda: "stroke-1" in b.board())
        entry = b.board()["stroke-1"]
        assert (entry.d, entry.color, entry.width) == (STROKE["d"], "#1e1e1e", 2)


async def test_three_clients_converge_on_concurrent_strokes(server):
    owner = create_room(server, "Owner")
    tokens = [owner] + [join_room(server, owner.room_id, f"User{i}") for i in range(2)]
    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(BoardClient(t.ws_url, t.token)) for t in tokens]
        for i, c in enumerate(clients):
            await c.synced.wait()
            await c.draw(f"k{i}", {**STROKE, "d": f"M {i} 0 L 5 5"})
        await clients[1].draw("shared", STROKE, ts=500)
        for c in clients:
            await c.wait_for(lambda c=c: len(c.board()) == 4)
        # Concurrent versions of one register: the greatest ts wins wherever it arrives first.
        await clients[2].draw("shared", {**STROKE, "color": "#ff0000"}, ts=2_000)
        await clients[0].draw("shared", {**STROKE, "color": "#00ff00"}, ts=1_000)
        for c in clients:
            await c.wait_for(lambda c=c: c.board()["shared"].color == "#ff0000")
        boards = [c.board() for c in clients]
        assert boards[0] == boards[1] == boards[2]
        assert boards[0]["shared"].color == "#ff0000"


async def test_a_client_that_reconnects_gets_everything_it_missed(server):
    alice = create_room(server, "Alice")
    bob = join_room(server, alice.room_id, "Bob")
    async with BoardClient(bob.ws_url, bob.token) as b:
        await b.synced.wait()
        await b.draw("before", STROKE)
    async with BoardClient(alice.ws_url, alice.token) as a:
        await a.synced.wait()
        await a.draw("while-bob-away", STROKE)
        await a.wait_for(lambda: "while-bob-away" in a.board())
    async with BoardClient(bob.ws_url, bob.token) as b2:
        await b2.wait_for(lambda: {"before", "while-bob-away"} <= set(b2.board()))
