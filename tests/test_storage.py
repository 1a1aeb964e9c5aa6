"""The update log, snapshots and rooms on real SQLite and PostgreSQL databases."""

from __future__ import annotations

import anyio
import pytest
from pycrdt import Doc
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from crdt import paths
from persistence.documents import SqlDocumentStore
from persistence.models import DocUpdate
from persistence.rooms import RoomRepository

pytestmark = pytest.mark.anyio



def log_length(engine: Engine, room_id: str) -> int:
    with Session(engine) as session:
        return session.scalar(
            select(func.count()).select_from(DocUpdate).where(DocUpdate.room_id == room_id)
        )


def stroke(doc: Doc, key: str, color: str, ts: float) -> bytes:
    before = doc.get_state()
    paths.write_path(doc, key, {"d": "M 0 0 L 1 1", "color": color, "width": 2}, ts=ts)
    return doc.get_update(before)


async def test_an_unknown_room_loads_as_none(engine):
    assert await SqlDocumentStore(engine).load("00000000-0000-4000-8000-000000000000") is None


async def test_the_log_replays_to_the_same_document(engine):
    room = await RoomRepository(engine).create_room(creator_ip="127.0.0.1")
    store = SqlDocumentStore(engine)
    doc = Doc()
    seqs = [await store.append(room.id, stroke(doc, f"k{i}", "#000000", 1000 + i))
            for i in range(5)]
    assert seqs == sorted(seqs)
    stored = await store.load(room.id)
    assert stored is not None and stored.seqs == seqs and len(stored.updates) == 5
    replica = Doc()
    for update in stored.updates:
        replica.apply_update(update)
    assert paths.read_paths(replica) == paths.read_paths(doc)


async def test_a_snapshot_drops_exactly_the_log_entries_it_covers(engine):
    room = await RoomRepository(engine).create_room(creator_ip="127.0.0.1")
    store = SqlDocumentStore(engine)
    doc = Doc()
    covered = [await store.append(room.id, stroke(doc, f"k{i}", "#111111", 1000 + i))
               for i in range(3)]
    snapshot_state = doc.get_update()
    # Another process appends an entry this document has not seen: it must survive.
    other = Doc()
    later = await store.append(room.id, stroke(other, "late", "#222222", 5000))
    await store.snapshot(room.id, state=snapshot_state, covered_seqs=covered)
    assert log_length(engine, room.id) == 1
    stored = await store.load(room.id)
    assert stored.seqs == [later] and len(stored.updates) == 2
    replica = Doc()
    for update in stored.updates:
        replica.apply_update(update)
    assert {p.key for p in paths.read_paths(replica)} == {"k0", "k1", "k2", "late"}
    assert [p.key for p in await store.read_paths(room.id)] == ["k0", "k1", "k2"]


async def test_snapshots_from_two_processes_are_united_not_overwritten(engine):
    room = await RoomRepository(engine).create_room(creator_ip="127.0.0.1")
    store = SqlDocumentStore(engine)
    first, second = Doc(), Doc()
    a = await store.append(room.id, stroke(first, "from-a", "#aa0000", 1000))
    b = await store.append(room.id, stroke(second, "from-b", "#00bb00", 2000))
    # Each process folds only its own document and drops only its own entries.
    await store.snapshot(room.id, state=first.get_update(), covered_seqs=[a])
    await store.snapshot(room.id, state=second.get_update(), covered_seqs=[b])
    assert log_length(engine, room.id) == 0
    stored = await store.load(room.id)
    replica = Doc()
    for update in stored.updates:
        replica.apply_update(update)
    assert {p.key for p in paths.read_paths(replica)} == {"from-a", "from-b"}
    assert {p.key for p in await store.read_paths(room.id)} == {"from-a", "from-b"}


async def test_rooms_and_sessions_are_recorded(engine):
    repository = RoomRepository(engine)
    room = await repository.create_room(creator_ip="203.0.113.7")
    await repository.record_session(user_id="u-1", room_id=room.id, username="Alice")
    await repository.touch_session(user_id="u-1")
    await repository.set_active_users(room_id=room.id, count=3)
    found = await repository.find_room(room.id)
    assert found is not None and found.active_users == 3
    assert found.created_at.tzinfo is not None
    assert await repository.find_room("00000000-0000-4000-8000-000000000000") is None


async def test_concurrent_appends_from_many_rooms_are_group_committed_and_all_kept(engine):
    repository = RoomRepository(engine)
    rooms = [await repository.create_room(creator_ip="127.0.0.1") for _ in range(10)]
    store = SqlDocumentStore(engine)
    docs = {room.id: Doc() for room in rooms}
    results: dict[str, list[int]] = {room.id: [] for room in rooms}

    async def writer(room_id: str) -> None:
        for i in range(20):
            update = stroke(docs[room_id], f"k{i}", "#000000", 1000 + i)
            results[room_id].append(await store.append(room_id, update))

    async with anyio.create_task_group() as tg:
        await tg.start(store.run)
        async with anyio.create_task_group() as writers:
            for room in rooms:
                writers.start_soon(writer, room.id)
        tg.cancel_scope.cancel()
    all_seqs = [seq for seqs in results.values() for seq in seqs]
    assert len(set(all_seqs)) == 200
    for room in rooms:
        assert results[room.id] == sorted(results[room.id])  # each room's order is kept
        stored = await store.load(room.id)
        assert stored.seqs == results[room.id]
        replica = Doc()
        for update in stored.updates:
            replica.apply_update(update)
        assert len(paths.read_paths(replica)) == 20
