"""Cursors and presence travel in awareness; names come from the token."""

from __future__ import annotations

import httpx
import pytest
from pycrdt import Encoder, create_awareness_message

from tests.support.client import BoardClient
from tests.support.servers import create_room, join_room
from tests.support.waiting import until

pytestmark = pytest.mark.anyio


async def test_awareness_is_relayed_with_the_name_from_the_token(server):
    alice = create_room(server, "Alice")
    bob = join_room(server, alice.room_id, "Bob")
    async with BoardClient(alice.ws_url, alice.token) as a, BoardClient(bob.ws_url, bob.token) as b:
        await a.synced.wait()
        await b.synced.wait()
        # Bob claims to be Alice: the room relays him as Bob.
        await b.set_awareness({"user": {"name": "Alice", "color": "#2f9e44"},
                               "cursor": {"x": 120.5, "y": 80}, "tool": "pen"})
        bid = b.doc.client_id
        await a.wait_for(lambda: a.awareness.get(bid) is not None)
        state = a.awareness[bid]
        assert state["user"] == {"name": "Bob", "color": "#2f9e44"}
        assert state["cursor"] == {"x": 120.5, "y": 80}
        assert state["tool"] == "pen"


async def test_a_bad_colour_or_cursor_is_replaced_not_relayed(server):
    alice = create_room(server, "Alice")
    async with BoardClient(alice.ws_url, alice.token) as a:
        await a.synced.wait()
        await a.set_awareness({"user": {"name": "x", "color": "red;<script>"},
                               "cursor": {"x": "1", "y": None}})
        cid = a.doc.client_id
        await a.wait_for(lambda: a.awareness.get(cid) is not None)
        state = a.awareness[cid]
        assert state["user"]["name"] == "Alice"
        assert state["user"]["color"].startswith("#") and len(state["user"]["color"]) == 7
        assert state["cursor"] is None


async def test_a_new_client_gets_the_current_awareness_right_after_sync_step_1(server):
    alice = create_room(server, "Alice")
    bob = join_room(server, alice.room_id, "Bob")
    async with BoardClient(alice.ws_url, alice.token) as a:
        await a.synced.wait()
        await a.set_awareness({"user": {"name": "Alice"}, "cursor": {"x": 1, "y": 2}})
        await a.wait_for(lambda: a.doc.client_id in a.awareness)
        async with BoardClient(bob.ws_url, bob.token) as b:
            await b.wait_for(lambda: len(b.received) >= 2)
            first, second = b.received[0][1], b.received[1][1]
            assert first[:2] == b"\x00\x00"  # sync step 1
            assert second[0] == 1  # awareness
            await b.wait_for(lambda: a.doc.client_id in b.awareness)
            assert b.awareness[a.doc.client_id]["cursor"] == {"x": 1, "y": 2}


async def test_a_client_cannot_overwrite_another_clients_awareness(server):
    alice = create_room(server, "Alice")
    mallory = join_room(server, alice.room_id, "Mallory")
    async with BoardClient(alice.ws_url, alice.token) as a, \
            BoardClient(mallory.ws_url, mallory.token, client_id=a.doc.client_id + 1) as m:
        await a.synced.wait()
        await m.synced.wait()
        await a.set_awareness({"user": {"name": "Alice"}, "cursor": {"x": 1, "y": 1}})
        await m.wait_for(lambda: a.doc.client_id in m.awareness)
        # Mallory forges an entry under Alice's client id with a higher clock.
        enc = Encoder()
        enc.write_var_uint(1)
        enc.write_var_uint(a.doc.client_id)
        enc.write_var_uint(99)
        enc.write_var_string('{"user":{"name":"Alice"},"cursor":{"x":666,"y":666}}')
        await m.send(create_awareness_message(enc.to_bytes()))
        await m.set_awareness({"user": {"name": "M"}, "cursor": {"x": 5, "y": 5}})
        await a.wait_for(lambda: m.doc.client_id in a.awareness)
        assert a.awareness[a.doc.client_id]["cursor"] == {"x": 1, "y": 1}


async def presence_of(server, room_id: str, token: str) -> list[tuple]:
    response = httpx.get(f"{server.base_url}/api/rooms/{room_id}/presence",
                         headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    return sorted((u["name"], u["cursor"] and (u["cursor"]["x"], u["cursor"]["y"]))
                  for u in response.json()["users"])


async def test_a_closed_connection_leaves_awareness_and_presence_within_5_s(server):
    alice = create_room(server, "Alice")
    bob = join_room(server, alice.room_id, "Bob")
    headers = {"Authorization": f"Bearer {alice.token}"}
    async with BoardClient(alice.ws_url, alice.token) as a:
        await a.synced.wait()
        async with BoardClient(bob.ws_url, bob.token) as b:
            await b.synced.wait()
            await b.set_awareness({"user": {"name": "Bob"}, "cursor": {"x": 3, "y": 4}})
            await a.wait_for(lambda: a.awareness.get(b.doc.client_id) is not None)

            async def both_listed():
                return await presence_of(server, alice.room_id, alice.token) == [
                    ("Alice", None), ("Bob", (3, 4))]

            await until(both_listed, what="both members listed in presence")
            room = httpx.get(f"{server.base_url}/api/rooms/{alice.room_id}", headers=headers)
            assert room.json()["active_users"] == 2
            bob_id = b.doc.client_id
        await a.wait_for(lambda: a.awareness.get(bob_id, "gone") is None)

        async def only_alice():
            return await presence_of(server, alice.room_id, alice.token) == [("Alice", None)]

        await until(only_alice, timeout=5, what="Bob gone from presence")
