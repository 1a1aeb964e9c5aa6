"""What was relayed survives kill -9; snapshots compact the log and keep the same document."""

from __future__ import annotations

import sqlite3
import time

import pytest

from tests.support.client import BoardClient, introduce
from tests.support.databases import fresh_postgres_database
from tests.support.metrics import metric
from tests.support.servers import create_room, join_room
from tests.support.waiting import until

pytestmark = pytest.mark.anyio


def db_rows(server, sql: str) -> list[tuple]:
    with sqlite3.connect(server.data_dir / "whiteboard.db") as conn:
        return conn.execute(sql).fetchall()


async def test_every_relayed_update_survives_kill_9(server_factory):
    server = server_factory(WHITEBOARD_SNAPSHOT_INTERVAL_S="3600")
    alice = create_room(server, "Alice")
    bob = join_room(server, alice.room_id, "Bob")
    async with BoardClient(alice.ws_url, alice.token) as a, BoardClient(bob.ws_url, bob.token) as b:
        await a.synced.wait()
        await b.synced.wait()
        for i in range(50):
            await a.draw(f"s{i}", {"d": f"M 0 {i} L 10 {i}", "color": "#123456", "width": 3})
        await a.erase("s7")
        await b.wait_for(lambda: len(b.board()) == 50 and b.board()["s7"].deleted)
        seen_by_bob = b.board()
    server.kill9()
    server.start()
    alice2 = join_room(server, alice.room_id, "Alice again")
    async with BoardClient(alice2.ws_url, alice2.token) as c:
        await c.wait_for(lambda: len(c.board()) == 50)
        assert c.board() == seen_by_bob


async def test_a_snapshot_compacts_the_log_and_keeps_the_same_document(server_factory):
    server = server_factory(WHITEBOARD_SNAPSHOT_INTERVAL_S="0.5")
    room = create_room(server, "Alice")
    async with BoardClient(room.ws_url, room.token) as a:
        await a.synced.wait()
        for i in range(30):
            await a.draw(f"k{i}", {"d": f"M {i} 0 L 0 {i}", "color": "#aa00aa", "width": 1})
        await a.draw("k3", {"d": "M 3 3 L 4 4", "color": "#00aa00", "width": 5})
        await a.erase("k4")
        await a.wait_for(lambda: a.board()["k3"].color == "#00aa00" and a.board()["k4"].deleted)
        expected = a.board()
        where = f"where room_id='{room.room_id}'"
        # Compacted: a snapshot row, path rows for every register, and an empty log.
        await until(
            lambda: not db_rows(server, f"select count(*) from doc_update {where}")[0][0]
            and db_rows(server, f"select count(*) from path {where} and deleted")[0][0] == 1,
            timeout=10, what="the room compacted into a snapshot and path rows",
        )
    rows = db_rows(
        server, f"select key, d, color, width, deleted from path where room_id='{room.room_id}'"
    )
    assert len(rows) == 30
    by_key = {r[0]: r for r in rows}
    assert by_key["k3"][1:4] == ("M 3 3 L 4 4", "#00aa00", 5.0)
    assert by_key["k4"][4] == 1
    server.stop()
    server.start()
    joined = join_room(server, room.room_id, "Bob")
    async with BoardClient(joined.ws_url, joined.token) as b:
        await b.wait_for(lambda: len(b.board()) == 30)
        assert b.board() == expected


async def test_sigterm_flushes_the_pending_batch_before_exit(server_factory):
    # A long window: the update is still pending when SIGTERM arrives.
    server = server_factory(WHITEBOARD_BATCH_INTERVAL_MS="5000",
                            WHITEBOARD_SNAPSHOT_INTERVAL_S="3600")
    room = create_room(server, "Alice")
    async with BoardClient(room.ws_url, room.token) as a:
        await a.synced.wait()
        await introduce(a)  # the handshake is over: the next message counted is the stroke
        received = metric(server, "whiteboard_messages_received_total")
        await a.draw("late", {"d": "M 1 1 L 2 2", "color": "#000000", "width": 1})
        await until(lambda: metric(server, "whiteboard_messages_received_total") > received,
                    what="the server has the stroke (in its open window)")
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 10
    server.start()
    joined = join_room(server, room.room_id, "Bob")
    async with BoardClient(joined.ws_url, joined.token) as b:
        await b.wait_for(lambda: "late" in b.board(), timeout=10)


async def test_a_server_on_postgresql_keeps_every_stroke_across_kill_9(server_factory):
    with fresh_postgres_database() as url:
        server = server_factory(WHITEBOARD_DATABASE_URL=url)
        room = create_room(server, "Alice")
        watcher = join_room(server, room.room_id, "Watcher")
        async with BoardClient(room.ws_url, room.token) as a, \
                BoardClient(watcher.ws_url, watcher.token) as w:
            await a.synced.wait()
            await w.synced.wait()
            for i in range(20):
                await a.draw(f"pg{i}", {"d": f"M {i} 0 L 0 {i}", "color": "#0000ff", "width": 2})
            await w.wait_for(lambda: len(w.board()) == 20)
            expected = w.board()
        server.kill9()
        server.start()
        joined = join_room(server, room.room_id, "Bob")
        async with BoardClient(joined.ws_url, joined.token) as b:
            await b.wait_for(lambda: len(b.board()) == 20)
            assert b.board() == expected
        server.stop()
