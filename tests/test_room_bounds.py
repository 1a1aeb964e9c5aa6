"""What one connection can make a room compute and hold is bounded (in-process ports):
sync step 1s share encodings and wait one at a time, a non-reading client's queue is
bounded in bytes, the document has a size limit, and roots other than `paths` are
removed before anything is logged."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
import pytest
from pycrdt import Doc, Map, Text, YSyncMessageType, create_update_message, write_var_uint

from crdt import paths
from crdt.awareness import Identity
from crdt.errors import CloseConnection
from crdt.ports import RoomPorts
from crdt.room import Room
from crdt.room_config import RoomConfig
from tests.support.inprocess import MemoryStore, MemoryTransport, connection_pair
from tests.support.waiting import until

pytestmark = pytest.mark.anyio

STROKE = {"color": "#000000", "width": 1}

def stored_doc(room: Room) -> Doc:
    """The room's document as it would be sent to a fresh joiner (public state only)."""
    doc: Doc = Doc()
    doc.apply_update(room.encoded_state())
    return doc



def big_board(strokes: int, d_length: int) -> bytes:
    source = Doc()
    for i in range(strokes):
        d = "M 0 0" + " L 1 1" * (d_length // 6)
        paths.write_path(source, f"s{i}", {"d": d, **STROKE}, ts=1.0)
    return source.get_update()


def step1(state_vector: bytes) -> bytes:
    return bytes([0, 0]) + write_var_uint(len(state_vector)) + state_vector


@dataclass
class Connection:
    transport: MemoryTransport
    send: anyio.abc.ObjectSendStream[bytes]
    receive: anyio.abc.ObjectReceiveStream[bytes]
    closed: anyio.Event
    reason: CloseConnection | None = None  # why the room closed it, if it did


@asynccontextmanager
async def running(store: MemoryStore, config: RoomConfig) -> AsyncIterator[tuple[Room, object]]:
    room = Room("room", RoomPorts(store=store), config=config)
    opened: list[Connection] = []
    async with anyio.create_task_group() as tg:
        await tg.start(room.run)

        def connect(buffer: int = 10_000) -> Connection:
            transport, send, receive = connection_pair(buffer)
            connection = Connection(transport, send, receive, anyio.Event())

            async def serve() -> None:
                connection.reason = await room.serve(transport, Identity("u", "U"))
                connection.closed.set()

            tg.start_soon(serve)
            opened.append(connection)
            return connection

        yield room, connect
        tg.cancel_scope.cancel()
    for connection in opened:
        connection.transport.release()
        connection.send.close()
        connection.receive.close()


async def test_many_sync_step_1s_cost_one_encoding_per_window_and_one_waiting_reply():
    store = MemoryStore()
    await store.append("room", big_board(50, 4_000))
    config = RoomConfig(batch_interval_s=0.05, sleep_after_s=0)
    async with running(store, config) as (room, connect):
        # A client that does not read: the room's sends block after one message.
        hostile = connect(buffer=1)
        vector = bytes([1]) + write_var_uint(987654) + bytes([0])
        for _ in range(250):
            await hostile.send.send(step1(vector))
        windows_before = anyio.current_time()
        # Not a catch-up wait: the span over which the room's encodings are counted.
        await anyio.sleep(0.5)
        windows = (anyio.current_time() - windows_before) / config.batch_interval_s
        # Before: one encoding of the whole board per message (250).
        assert room.stats.sync_replies_encoded <= windows + 2
        # Now it reads: it gets the replies that were waiting, not 250 of them.
        replies = 0
        with anyio.move_on_after(0.5):
            async for message in hostile.receive:
                if message[:2] == bytes([0, YSyncMessageType.SYNC_STEP2]):
                    replies += 1
        assert 1 <= replies <= 3


async def test_a_client_that_does_not_read_is_closed_when_its_queue_passes_its_bytes():
    config = RoomConfig(batch_interval_s=0.01, outbox_bytes=200_000, sleep_after_s=0)
    async with running(MemoryStore(), config) as (room, connect):
        idle = connect(buffer=1)
        writer = connect()
        source = Doc()
        updates: list[bytes] = []
        source.observe(lambda event: updates.append(event.update))
        for i in range(40):
            paths.write_path(source, f"k{i}", {"d": "M 0 0" + " L 1 1" * 2_000, **STROKE},
                             ts=1.0)
            await writer.send.send(create_update_message(updates[-1]))
            if idle.closed.is_set():
                break
            # The writer's pace, not a wait for the room: one window each, separate
            # broadcasts, until the client that does not read is closed.
            await anyio.sleep(0.02)
        with anyio.fail_after(5):
            await idle.closed.wait()
        assert idle.reason is not None and idle.reason.code == 1013
        assert room.stats.clients_kicked_slow == 1
        assert not writer.closed.is_set()


async def test_an_update_past_the_document_limit_closes_its_writer_and_keeps_nothing():
    store = MemoryStore()
    config = RoomConfig(batch_interval_s=0.01, max_document_bytes=50_000, sleep_after_s=0)
    async with running(store, config) as (room, connect):
        writer = connect()
        source = Doc()
        updates: list[bytes] = []
        source.observe(lambda event: updates.append(event.update))
        paths.write_path(source, "small", {"d": "M 0 0 L 5 5", **STROKE}, ts=1.0)
        paths.write_path(source, "huge", {"d": "M 0 0" + " L 1 1" * 10_000, **STROKE}, ts=1.0)
        await writer.send.send(create_update_message(updates[0]))
        await writer.send.send(create_update_message(updates[1]))
        with anyio.fail_after(5):
            await writer.closed.wait()
        assert writer.reason is not None and writer.reason.code == 4413
        assert room.stats.updates_refused == 1
        assert {e.key for e in paths.read_paths(stored_doc(room))} == {"small"}
        await room.flush()
        logged = Doc()
        for _, update in store.log:
            logged.apply_update(update)
        assert {e.key for e in paths.read_paths(logged)} == {"small"}


async def test_content_under_another_root_is_removed_before_it_is_logged():
    store = MemoryStore()
    config = RoomConfig(batch_interval_s=0.01, sleep_after_s=0)
    async with running(store, config) as (room, connect):
        writer = connect()
        source = Doc()
        source.get("paths", type=Map)
        with source.transaction():
            paths.write_path(source, "kept", {"d": "M 0 0 L 5 5", **STROKE}, ts=1.0)
            junk = source.get("junk", type=Text)
            junk += "x" * 1_000_000
            source.get("meta", type=Map)["note"] = "y" * 100_000
        await writer.send.send(create_update_message(source.get_update()))
        await until(lambda: store.log, interval=0.01, what="the stroke in the update log")
        logged = sum(len(update) for _, update in store.log)
        assert logged < 10_000, f"{logged} bytes logged for one stroke"
        assert len(stored_doc(room).get("junk", type=Text)) == 0
        assert {e.key for e in paths.read_paths(stored_doc(room))} == {"kept"}
        fresh = Doc()
        fresh.apply_update(room.encoded_state())
        assert str(fresh.get("junk", type=Text)) == ""
        assert fresh.get("meta", type=Map).to_py() == {}
        assert not writer.closed.is_set()

