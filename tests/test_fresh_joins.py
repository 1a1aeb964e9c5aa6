"""Fresh clients that join together share one encoded reply, and never a stale one."""

from __future__ import annotations

from contextlib import AsyncExitStack

import anyio
import pytest
from pycrdt import YMessageType, YSyncMessageType

from tests.support.client import BoardClient
from tests.support.servers import create_room, join_room

pytestmark = pytest.mark.anyio

STROKE = {"color": "#000000", "width": 1}


def sync_step2(client: BoardClient) -> bytes:
    return next(
        m for _, m in client.received
        if m[0] == YMessageType.SYNC and m[1] == YSyncMessageType.SYNC_STEP2
    )


async def test_fresh_joins_get_the_same_whole_document_and_see_every_later_change(server):
    alice = create_room(server, "Alice")
    async with BoardClient(alice.ws_url, alice.token) as a:
        await a.synced.wait()
        for i in range(50):
            await a.draw(f"p{i}", {"d": f"M {i} 0 L {i} 10", **STROKE})
        async with AsyncExitStack() as stack:
            watcher = await stack.enter_async_context(
                BoardClient(alice.ws_url, join_room(server, alice.room_id, "Watch").token)
            )
            await watcher.wait_for(lambda: len(watcher.board()) == 50)

            fresh = [
                await stack.enter_async_context(
                    BoardClient(alice.ws_url, join_room(server, alice.room_id, f"F{n}").token)
                )
                for n in range(4)
            ]
            with anyio.fail_after(5):
                for client in fresh:
                    await client.synced.wait()
            assert all(len(client.board()) == 50 for client in fresh)
            assert len({sync_step2(client) for client in fresh}) == 1

            # A change, then a fresh join well within the time a shared reply is kept:
            # the newcomer's reply must hold the change (nothing else will bring it).
            await a.draw("late", {"d": "M 0 0 L 5 5", **STROKE})
            await watcher.wait_for(lambda: "late" in watcher.board())
            late = await stack.enter_async_context(
                BoardClient(alice.ws_url, join_room(server, alice.room_id, "Late").token)
            )
            with anyio.fail_after(5):
                await late.synced.wait()
            assert "late" in late.board()
            assert len(late.board()) == 51
