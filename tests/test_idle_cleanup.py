"""An empty room is freed after WHITEBOARD_ROOM_IDLE_S; its drawing comes back, whole, on join."""

from __future__ import annotations

import random

import anyio
import httpx
import pytest
from pycrdt import Doc, create_update_message

from crdt import paths
from crdt.awareness import Identity
from crdt.ports import RoomPorts
from crdt.room_config import RoomConfig
from crdt.rooms import ManagerConfig, RoomManager
from tests.support.client import BoardClient
from tests.support.drawing import stroke
from tests.support.inprocess import MemoryStore, connection_pair
from tests.support.metrics import metrics, metrics_async
from tests.support.servers import create_room, join_room
from tests.support.waiting import until

pytestmark = pytest.mark.anyio


async def test_an_idle_room_is_freed_and_its_drawing_comes_back_on_join(server_factory):
    # Snapshots only when the room is freed: what comes back is the final snapshot.
    server = server_factory(WHITEBOARD_ROOM_IDLE_S="1", WHITEBOARD_SNAPSHOT_INTERVAL_S="3600")
    room = create_room(server, "Alice")
    watcher = join_room(server, room.room_id, "Watcher")
    async with BoardClient(room.ws_url, room.token) as a, \
            BoardClient(watcher.ws_url, watcher.token) as w:
        await a.synced.wait()
        await w.synced.wait()
        for i in range(40):
            await a.draw(f"p{i}", stroke(i))
        await a.draw("p3", {**stroke(3), "color": "#00aa00"})
        await a.erase("p5")
        await w.wait_for(lambda: len(w.board()) == 40 and w.board()["p5"].deleted
                         and w.board()["p3"].color == "#00aa00")
        drawn = w.board()
        assert metrics(server)["whiteboard_rooms_live"] == 1
    await until(lambda: metrics(server)["whiteboard_rooms_unloaded_total"] == 1, timeout=10,
                what="the idle room is cleaned up")
    assert metrics(server)["whiteboard_rooms_live"] == 0
    assert any("room cleaned up" in line and room.room_id in line
               for line in server.log().splitlines())

    bob = join_room(server, room.room_id, "Bob")
    async with BoardClient(bob.ws_url, bob.token) as b:
        await b.synced.wait()
        assert b.board() == drawn  # whole from the first sync, not filled in later
    assert metrics(server)["whiteboard_rooms_loaded_total"] == 2


async def test_a_room_with_a_connected_client_is_never_cleaned_up(server_factory):
    server = server_factory(WHITEBOARD_ROOM_IDLE_S="1", WHITEBOARD_HEARTBEAT_S="0.5")
    room = create_room(server, "Alice")
    async with BoardClient(room.ws_url, room.token) as a:
        await a.synced.wait()
        await a.draw("before", stroke(1))
        # Not a catch-up wait: the time under test, three idle times with a quiet but
        # connected client; there is no event for a clean-up that does not happen.
        await anyio.sleep(3)
        assert metrics(server)["whiteboard_rooms_unloaded_total"] == 0
        assert a.close_code is None
        await a.draw("after", stroke(2))
        bob = join_room(server, room.room_id, "Bob")
        async with BoardClient(bob.ws_url, bob.token) as b:
            await b.wait_for(lambda: {"before", "after"} <= set(b.board()))
    assert metrics(server)["whiteboard_rooms_loaded_total"] == 1


async def test_joins_racing_the_clean_up_never_see_an_empty_board_nor_two_live_copies(
    server_factory,
):
    # A board big enough that the final snapshot takes a while: joins land before, during
    # and after the clean-up, at steps of 30 ms around the moment the idle time runs out.
    server = server_factory(WHITEBOARD_ROOM_IDLE_S="1", WHITEBOARD_SNAPSHOT_INTERVAL_S="3600")
    room = create_room(server, "Owner")
    expected = 0
    async with BoardClient(room.ws_url, room.token) as owner:
        await owner.synced.wait()
        for batch in range(10):
            for i in range(300):
                n = batch * 300 + i
                await owner.draw(f"base{n}", {**stroke(n), "d": f"M {n} 0 " + "L 1 1 " * 40})
            await owner.wait_for_echo(timeout=15)  # a window (and a log entry) per batch
        expected = 3000
    rng = random.Random(4)
    ROUNDS = 12
    live_seen: set[float] = set()

    async def watch_live_rooms() -> None:
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            while True:
                live_seen.add((await metrics_async(http))["whiteboard_rooms_live"])
                await anyio.sleep(0.01)  # a sampler's pace, not a wait for the server

    async with anyio.create_task_group() as tg:
        tg.start_soon(watch_live_rooms)
        for round_ in range(ROUNDS):
            joined = join_room(server, room.room_id, f"U{round_}")
            async with BoardClient(joined.ws_url, joined.token) as c:
                with anyio.fail_after(15):
                    await c.synced.wait()
                # Whole from the first sync: never an empty or a stale board.
                assert len(c.board()) == expected, f"round {round_}"
                # Each round adds a stroke that the next round must find.
                await c.draw(f"round{round_}", stroke(round_))
                expected += 1
                await c.wait_for_echo()  # merged and in the log
            # Not a catch-up wait but the timing under test: every other round stays away
            # long enough for a clean-up to finish; the others come back around the moment it
            # starts, at a different offset each time.
            await anyio.sleep(2.0 if round_ % 2 else 0.9 + 0.05 * round_ + rng.random() * 0.05)
        tg.cancel_scope.cancel()

    assert live_seen <= {0.0, 1.0}, f"two live copies of one room: {live_seen}"
    assert metrics(server)["whiteboard_rooms_unloaded_total"] >= ROUNDS // 2 - 1
    last = join_room(server, room.room_id, "Last")
    async with BoardClient(last.ws_url, last.token) as c:
        await c.synced.wait()
        assert len(c.board()) == expected
        assert {f"round{r}" for r in range(ROUNDS)} <= set(c.board())


class FlakyStore(MemoryStore):
    """An update log that can be made to fail, as a full disk or a lost database would."""

    failing = False

    async def append(self, room_id: str, update: bytes) -> int:
        if self.failing:
            raise OSError("the update log is unavailable")
        return await super().append(room_id, update)


async def test_a_room_whose_changes_cannot_be_stored_is_kept_until_they_are():
    store = FlakyStore()
    manager = RoomManager(
        RoomPorts(store=store),
        config=ManagerConfig(room=RoomConfig(batch_interval_s=0.01, store_retry_s=0.05),
                             room_idle_s=0.2),
    )
    transport, send, receive = connection_pair()
    try:
        async with anyio.create_task_group() as tg:
            await tg.start(manager.run)
            tg.start_soon(manager.serve, "room", transport, Identity("u1", "Alice"))
            doc = Doc()
            paths.write_path(doc, "kept", stroke(1), ts=1_700_000_000_000)
            store.failing = True
            await send.send(create_update_message(doc.get_update()))
            await until(lambda: manager.stats.store_failures > 0)
            send.close()  # the only client leaves while its stroke is not stored yet
            # Not a catch-up wait: the time under test, five idle times in which a room with
            # nothing unstored would have been freed.
            await anyio.sleep(1.0)
            assert manager.live_room("room") is not None
            assert manager.stats.rooms_unloaded == 0

            store.failing = False
            await until(lambda: manager.stats.rooms_unloaded == 1)
            stored = await store.load("room")
            assert stored is not None
            saved = Doc()
            for update in stored.updates:
                saved.apply_update(update)
            assert [entry.key for entry in paths.read_paths(saved)] == ["kept"]
            tg.cancel_scope.cancel()
    finally:
        send.close()
        receive.close()
        transport.release()
