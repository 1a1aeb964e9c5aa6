"""A quiet room's document sleeps as its encoded state: joins and cursors don't wake it,
the first change does, and nothing drawn is lost either way (in-process ports)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest
from pycrdt import (
    Doc,
    YSyncMessageType,
    create_sync_message,
    create_update_message,
    handle_sync_message,
)

from crdt import paths
from crdt.awareness import Identity
from crdt.ports import RoomPorts
from crdt.room import Room
from crdt.room_config import RoomConfig
from crdt.rooms import ManagerConfig, RoomManager
from tests.support.inprocess import MemoryStore, connection_pair
from tests.support.waiting import until

pytestmark = pytest.mark.anyio

CONFIG = RoomConfig(
    batch_interval_s=0.01, sleep_after_s=0.3, awareness_timeout_s=1.0, heartbeat_s=0.5
)
STROKE = {"color": "#000000", "width": 1}

def stored_doc(room: Room) -> Doc:
    """The room's document as it would be sent to a fresh joiner (public state only)."""
    doc: Doc = Doc()
    doc.apply_update(room.encoded_state())
    return doc



def stroke_update(doc: Doc, key: str) -> bytes:
    """Draw a stroke on `doc` and return the update it made."""
    updates: list[bytes] = []
    subscription = doc.observe(lambda event: updates.append(event.update))
    paths.write_path(doc, key, {"d": f"M 0 0 L {len(key)} 9", **STROKE}, ts=1.0)
    doc.unobserve(subscription)
    return updates[0]


def keys(doc: Doc) -> set[str]:
    return {entry.key for entry in paths.read_paths(doc)}


class Peer:
    """A client's document, kept in sync with the room over an in-process connection."""

    def __init__(self, send, doc: Doc) -> None:
        self.doc = doc
        self._send = send
        self.synced = anyio.Event()

    async def pump(self, receive) -> None:
        async for message in receive:
            if message[0] != 0:
                continue
            reply = handle_sync_message(message[1:], self.doc)
            if reply is not None:
                await self._send.send(reply)
            if message[1] == YSyncMessageType.SYNC_STEP2:
                self.synced.set()

    async def round_trip(self) -> None:
        """Send a sync step 1 and wait for its answer: the room has handled everything this
        peer sent before it (a connection's messages are handled in order)."""
        self.synced = anyio.Event()
        await self._send.send(create_sync_message(self.doc))
        with anyio.fail_after(5):
            await self.synced.wait()

    async def draw(self, key: str) -> None:
        await self._send.send(create_update_message(stroke_update(self.doc, key)))


@asynccontextmanager
async def running(store: MemoryStore) -> AsyncIterator[tuple[Room, object]]:
    room = Room("room", RoomPorts(store=store), config=CONFIG)
    streams: list = []
    async with anyio.create_task_group() as tg:
        await tg.start(room.run)

        async def join(name: str, doc: Doc | None = None) -> Peer:
            transport, send, receive = connection_pair()
            streams.append((transport, send, receive))
            peer = Peer(send, doc if doc is not None else Doc())
            tg.start_soon(room.serve, transport, Identity(name, name))
            tg.start_soon(peer.pump, receive)
            await send.send(create_sync_message(peer.doc))
            with anyio.fail_after(5):
                await peer.synced.wait()
            return peer

        yield room, join
        tg.cancel_scope.cancel()
    for transport, send, receive in streams:
        transport.release()
        send.close()
        receive.close()


async def test_a_quiet_room_sleeps_and_joins_are_answered_without_waking_it():
    source = Doc()
    first, rest = stroke_update(source, "one"), stroke_update(source, "two")
    store = MemoryStore()
    await store.append("room", first)
    await store.append("room", rest)
    async with running(store) as (room, join):
        assert not room.asleep
        await until(lambda: room.asleep)
        fresh = await join("fresh")
        assert keys(fresh.doc) == {"one", "two"}
        # A client that holds part of the drawing gets exactly the rest.
        partial = Doc()
        partial.apply_update(first)
        behind = await join("behind", partial)
        assert keys(behind.doc) == {"one", "two"}
        for joiner in (fresh, behind):  # the joiners' own sync replies have arrived too
            await joiner.round_trip()
        assert room.asleep
        assert room.stats.rooms_slept == 1


async def test_a_change_wakes_a_sleeping_room_and_nothing_is_lost():
    source = Doc()
    store = MemoryStore()
    await store.append("room", stroke_update(source, "old"))
    async with running(store) as (room, join):
        writer, reader = await join("writer"), await join("reader")
        await until(lambda: room.asleep)
        await writer.draw("new")
        await until(lambda: keys(reader.doc) == {"old", "new"})
        assert keys(stored_doc(room)) == {"old", "new"}
        assert len(store.log) == 2  # the change was logged after the wake-up
        await until(lambda: room.asleep)
        assert room.stats.rooms_slept == 2
        # A snapshot of a sleeping room folds in its encoded state.
        assert await room.snapshot()
        assert room.asleep
        snapshot = Doc()
        snapshot.apply_update(store.snapshot_state)
        assert keys(snapshot) == {"old", "new"}
        late = await join("late")
        assert keys(late.doc) == {"old", "new"}


async def test_a_room_set_never_to_sleep_stays_awake():
    store = MemoryStore()
    await store.append("room", stroke_update(Doc(), "kept"))
    room = Room("room", RoomPorts(store=store), config=RoomConfig(
        batch_interval_s=0.01, sleep_after_s=0, awareness_timeout_s=1.0, heartbeat_s=0.5))
    async with anyio.create_task_group() as tg:
        await tg.start(room.run)
        # Not a catch-up wait: the time under test, in which a room of CONFIG (asleep after
        # 0.3 s) would have gone to sleep; there is no event for "did not happen".
        await anyio.sleep(0.8)
        assert not room.asleep
        tg.cancel_scope.cancel()


async def test_a_closed_room_can_be_freed():
    # pycrdt holds observers on the Rust side, out of the garbage collector's sight: a
    # room that did not unsubscribe would stay in memory forever after it closed.
    store = MemoryStore()
    await store.append("room", stroke_update(Doc(), "kept"))
    room = Room("room", RoomPorts(store=store), config=CONFIG)
    async with anyio.create_task_group() as tg:
        await tg.start(room.run)
        assert keys(stored_doc(room)) == {"kept"}
        await room.close()
    freed = weakref.ref(room)
    del room, tg
    gc.collect()
    assert freed() is None


async def test_exporting_a_sleeping_room_reads_it_without_waking_it():
    store = MemoryStore()
    await store.append("room", stroke_update(Doc(), "kept"))
    manager = RoomManager(RoomPorts(store=store), config=ManagerConfig(room=CONFIG))
    transport, send, receive = connection_pair()
    async with anyio.create_task_group() as tg:
        await tg.start(manager.run)
        tg.start_soon(manager.serve, "room", transport, Identity("u", "U"))
        await until(lambda: (room := manager.live_room("room")) is not None and room.asleep)
        board = await manager.board("room")
        assert [entry.key for entry in board or []] == ["kept"]
        assert manager.live_room("room").asleep
        tg.cancel_scope.cancel()
    transport.release()
    send.close()
    receive.close()
