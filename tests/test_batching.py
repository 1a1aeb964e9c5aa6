"""Updates are relayed in batches: one merged update per client per window."""

from __future__ import annotations

import time

import pytest
from pycrdt import YMessageType, YSyncMessageType

from tests.support.client import BoardClient, introduce
from tests.support.servers import create_room, join_room

pytestmark = pytest.mark.anyio


def sync_updates(client: BoardClient, since: float) -> list[bytes]:
    return [
        m for t, m in client.received
        if t >= since and m[0] == YMessageType.SYNC and m[1] == YSyncMessageType.SYNC_UPDATE
    ]


async def test_200_updates_sent_within_50_ms_reach_another_client_in_at_most_3_messages(server):
    alice = create_room(server, "Alice")
    bob = join_room(server, alice.room_id, "Bob")
    async with BoardClient(alice.ws_url, alice.token) as a, BoardClient(bob.ws_url, bob.token) as b:
        await a.synced.wait()
        await b.synced.wait()
        await introduce(a, b)  # the handshakes' own traffic has passed
        start = time.monotonic()
        for i in range(200):
            await a.draw(f"p{i}", {"d": f"M {i} 0 L {i} 10", "color": "#000000", "width": 1})
        sent_in = time.monotonic() - start
        await b.wait_for(lambda: len(b.board()) == 200)
        assert sent_in < 0.5, "the sender itself was too slow for this test to mean anything"
        assert 1 <= len(sync_updates(b, start)) <= 3
        # The writer is not sent more than one merged update per window either.
        await a.wait_for_echo()
        assert len(sync_updates(a, start)) <= 3


async def test_awareness_is_coalesced_to_the_newest_state_per_client(server):
    alice = create_room(server, "Alice")
    bob = join_room(server, alice.room_id, "Bob")
    async with BoardClient(alice.ws_url, alice.token) as a, BoardClient(bob.ws_url, bob.token) as b:
        await a.synced.wait()
        await b.synced.wait()
        await introduce(a, b)
        start = time.monotonic()
        for x in range(50):
            await a.set_awareness({"user": {"name": "Alice"}, "cursor": {"x": x, "y": 1}})
        cid = a.doc.client_id
        await b.wait_for(lambda: (b.awareness.get(cid) or {}).get("cursor", {}).get("x") == 49)
        awareness_messages = [m for t, m in b.received if t >= start and m[0] == 1]
        assert 1 <= len(awareness_messages) <= 3
