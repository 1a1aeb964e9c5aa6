"""A full disk: the store refuses writes with StorageFull, keeps what it has, and writes again
on its own once there is room (real SQLite, on a real small file system or at its page limit).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
import psycopg
import pytest
from pycrdt import Doc
from sqlalchemy import Engine, event
from sqlalchemy.exc import IntegrityError, OperationalError

from crdt import paths
from crdt.ports import StorageFull
from persistence.db import create_db_engine, full_raises_storage_full
from persistence.documents import SqlDocumentStore
from persistence.migrate import migrate
from persistence.rooms import RoomRepository
from tests.support.filesystems import fill, small_file_system

pytestmark = pytest.mark.anyio

# About 50 KB per stroke: a 4 MB file system is full within a hundred of them.
LONG_D = "M 0 0" + " L 1 1" * 8000
MAX_APPENDS = 200


@dataclass
class Disk:
    """A database whose storage a test can fill up, and free again, while it is in use."""

    engine: Engine
    fill: Callable[[], object]
    free: Callable[[], None]


@contextmanager
def on_a_small_file_system(tmp_path: Path) -> Iterator[Disk]:
    with small_file_system(tmp_path / "fs", megabytes=4) as fs:
        engine = create_db_engine(f"sqlite:///{fs / 'whiteboard.db'}")
        try:
            migrate(engine)
            yield Disk(engine, fill=lambda: fill(fs), free=(fs / "filler").unlink)
        finally:
            engine.dispose()


@contextmanager
def at_a_page_limit(tmp_path: Path) -> Iterator[Disk]:
    """SQLite's own "full": `max_page_count`, which cannot go below the pages in use."""
    engine = create_db_engine(f"sqlite:///{tmp_path / 'whiteboard.db'}")
    limit = [1 << 30]

    # On every checkout, not only on connect: connections kept in the pool see a new limit.
    @event.listens_for(engine, "checkout")
    def apply_limit(dbapi_connection, _record, _proxy) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count = {limit[0]}")

    def set_limit(pages: int) -> None:
        limit[0] = pages

    try:
        migrate(engine)
        yield Disk(engine, fill=lambda: set_limit(1), free=lambda: set_limit(1 << 30))
    finally:
        engine.dispose()


@pytest.fixture(params=["small file system", "max_page_count"])
def disk(request, tmp_path: Path) -> Iterator[Disk]:
    make = on_a_small_file_system if request.param == "small file system" else at_a_page_limit
    with make(tmp_path) as disk:
        yield disk


def stroke(doc: Doc, key: str) -> bytes:
    before = doc.get_state()
    paths.write_path(doc, key, {"d": LONG_D, "color": "#000000", "width": 2}, ts=1000.0)
    return doc.get_update(before)


async def append_until_full(
    store: SqlDocumentStore, room_id: str, doc: Doc
) -> tuple[list[bytes], list[int], StorageFull]:
    """Append strokes until the store refuses one: what it took, their seqs, and the refusal."""
    updates: list[bytes] = []
    seqs: list[int] = []
    for i in range(MAX_APPENDS):
        update = stroke(doc, f"fill{i}")
        try:
            seqs.append(await store.append(room_id, update))
        except StorageFull as full:
            return updates, seqs, full
        updates.append(update)
    pytest.fail(f"{MAX_APPENDS} appends of {len(LONG_D)} characters never filled the disk")


async def new_room(disk: Disk) -> str:
    return (await RoomRepository(disk.engine).create_room(creator_ip="127.0.0.1")).id


async def test_appends_refuse_while_full_keep_what_was_logged_and_resume_when_space_returns(
    disk,
):
    room_id = await new_room(disk)
    store = SqlDocumentStore(disk.engine)
    doc = Doc()
    logged = [stroke(doc, f"before{i}") for i in range(3)]
    seqs = [await store.append(room_id, update) for update in logged]

    disk.fill()
    updates, more_seqs, full = await append_until_full(store, room_id, doc)
    logged += updates
    seqs += more_seqs
    # The database's own error is kept as the cause.
    assert isinstance(full.__cause__, OperationalError)
    assert full.__cause__.orig.sqlite_errorcode == sqlite3.SQLITE_FULL
    with pytest.raises(StorageFull):  # it stays full until space returns
        await store.append(room_id, stroke(doc, "still-full"))
    stored = await store.load(room_id)
    assert stored is not None and stored.updates == logged and stored.seqs == seqs

    disk.free()
    after = stroke(doc, "after")
    seq = await store.append(room_id, after)  # the same store and engine: no restart
    stored = await store.load(room_id)
    assert stored is not None and stored.updates == [*logged, after]
    assert stored.seqs == [*seqs, seq] and seq > seqs[-1]


async def test_a_snapshot_refused_while_full_leaves_the_log_whole_and_succeeds_later(disk):
    room_id = await new_room(disk)
    store = SqlDocumentStore(disk.engine)
    doc = Doc()
    disk.fill()
    logged, seqs, _ = await append_until_full(store, room_id, doc)

    with pytest.raises(StorageFull):
        await store.snapshot(room_id, state=doc.get_update(), covered_seqs=seqs)
    stored = await store.load(room_id)
    assert stored is not None and stored.updates == logged and stored.seqs == seqs

    disk.free()
    await store.snapshot(room_id, state=doc.get_update(), covered_seqs=seqs)
    stored = await store.load(room_id)
    assert stored is not None and stored.seqs == [] and len(stored.updates) == 1
    replica = Doc()
    replica.apply_update(stored.updates[0])
    assert paths.read_paths(replica) == paths.read_paths(doc)


async def test_every_append_of_a_group_commit_round_gets_storage_full(disk):
    room_id = await new_room(disk)
    store = SqlDocumentStore(disk.engine)
    doc = Doc()
    results: dict[int, int | StorageFull] = {}

    async def append(i: int) -> None:
        try:
            results[i] = await store.append(room_id, stroke(doc, f"round{i}"))
        except StorageFull as full:
            results[i] = full

    async with anyio.create_task_group() as tg:
        await tg.start(store.run)  # the group-commit writer
        disk.fill()
        await append_until_full(store, room_id, doc)
        async with anyio.create_task_group() as round_:
            for i in range(10):
                round_.start_soon(append, i)
        assert all(isinstance(r, StorageFull) for r in results.values()), results
        assert len(results) == 10

        disk.free()
        results.clear()
        async with anyio.create_task_group() as round_:
            for i in range(10):
                round_.start_soon(append, i)
        seqs = list(results.values())
        assert all(isinstance(seq, int) for seq in seqs) and len(set(seqs)) == 10, results
        tg.cancel_scope.cancel()


async def test_other_database_errors_pass_through_unchanged(disk):
    store = SqlDocumentStore(disk.engine)
    with pytest.raises(IntegrityError):  # the log's foreign key: no such room
        await store.append("00000000-0000-4000-8000-000000000000", b"\x00\x00")


def test_postgresql_disk_full_is_storage_full_too():
    # A PostgreSQL with a full disk cannot be made here: its error as psycopg raises it,
    # wrapped as SQLAlchemy wraps it.
    disk_full = psycopg.errors.DiskFull("could not extend file: No space left on device")
    wrapped = OperationalError("INSERT INTO doc_update ...", {}, disk_full)
    with pytest.raises(StorageFull) as raised, full_raises_storage_full():
        raise wrapped
    assert raised.value.__cause__ is wrapped
