"""History points in real SQLite and PostgreSQL databases: recorded, read back, and kept
by age (every point for 24 h, the last of each hour for 30 days, then of each day).

Points are written in the past through the store's API, so that the retention rule, which
reads the clock, is tested without waiting.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pycrdt import Doc
from sqlalchemy import Engine
from sqlmodel import Session

from crdt import paths
from crdt.history import kept
from crdt.paths import PathEntry, Stroke
from persistence.documents import SqlDocumentStore
from persistence.models import Room
from persistence.rooms import RoomRepository

pytestmark = pytest.mark.anyio

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)



def entry(key: str, n: int, *, ts: float = 1000.0, color: str = "#1e1e1e") -> PathEntry:
    return Stroke(key=key, ts=ts, d=f"M {n} 0 L {n} 10", color=color, width=2.0)


def now() -> datetime:
    return datetime.now(UTC)


async def new_room(engine: Engine) -> str:
    """A room without history yet: its points are written in the past by the test (a
    room's points are in time order, and a real room's first point is its creation)."""
    room_id = str(uuid.uuid4())
    with Session(engine) as session:
        session.add(Room(id=room_id, created_at=now() - 60 * DAY))
        session.commit()
    return room_id


async def test_a_blank_room_starts_with_one_empty_point(engine):
    store = SqlDocumentStore(engine)
    room_id = (await RoomRepository(engine).create_room(creator_ip="127.0.0.1")).id
    points = await store.history(room_id)
    assert points is not None and [p.paths for p in points] == [0]
    assert await store.history("00000000-0000-4000-8000-000000000000") is None


async def test_an_imported_room_starts_with_what_its_import_brought(engine):
    doc: Doc = Doc()
    for i in range(3):
        paths.write_path(doc, f"k{i}", {"d": "M 0 0 L 1 1", "color": "#000000", "width": 1}, ts=5)
    repository = RoomRepository(engine)
    room = await repository.create_room(creator_ip="::1", initial_state=doc.get_update())
    store = SqlDocumentStore(engine)
    points = await store.history(room.id)
    assert points is not None and [p.paths for p in points] == [3]
    board = await store.board_at(room.id, now())
    assert board is not None and sorted(e.key for e in board.entries) == ["k0", "k1", "k2"]


async def test_a_snapshot_after_a_change_makes_a_point_and_one_without_a_drawn_change_does_not(
    engine,
):
    store = SqlDocumentStore(engine)
    room_id = (await RoomRepository(engine).create_room(creator_ip="127.0.0.1")).id
    doc: Doc = Doc()
    paths.write_path(doc, "a", {"d": "M 0 0 L 5 5", "color": "#e03131", "width": 3}, ts=10)
    seq = await store.append(room_id, doc.get_update())
    await store.snapshot(room_id, state=doc.get_update(), covered_seqs=[seq])
    await store.snapshot(room_id, state=doc.get_update(), covered_seqs=[])
    points = await store.history(room_id)
    assert points is not None and [p.paths for p in points] == [1, 0]
    assert points[0].at_ms > points[1].at_ms
    board = await store.board_at(room_id, points[0].at)
    assert board is not None and board.entries == [
        Stroke(key="a", ts=10.0, d="M 0 0 L 5 5", color="#e03131", width=3.0)
    ]


async def test_boards_read_back_at_between_and_before_points(engine):
    store = SqlDocumentStore(engine)
    room_id = await new_room(engine)
    start = now() - 10 * HOUR
    boards: list[list[PathEntry]] = []
    rng = random.Random(3)
    board: dict[str, PathEntry] = {}
    for i in range(300):  # enough changes for several bases between the diffs
        for _ in range(rng.randint(1, 20)):
            key = f"p{rng.randrange(200)}"
            if rng.random() < 0.2:
                board.pop(key, None)
            else:
                board[key] = entry(key, rng.randrange(1000), ts=float(i))
        await store.record_point(room_id, list(board.values()), at=start + i * timedelta(minutes=1))
        boards.append(sorted(board.values(), key=lambda e: (e.ts, e.key)))
    for i in (0, 1, 57, 150, 299):
        at = start + i * timedelta(minutes=1)
        for when in (at, at + timedelta(seconds=30)):  # at a point, and between two
            found = await store.board_at(room_id, when)
            assert found is not None and found.point is not None
            assert found.entries == boards[i]
            assert found.point.paths == len(boards[i])
    before = await store.board_at(room_id, start - DAY)
    assert before is not None and before.point is None and before.entries == []


def test_the_retention_rule_keeps_every_recent_point_then_one_per_hour_then_one_per_day():
    now_ms = 1_800_000_000_000
    hour, day = 3_600_000, 86_400_000
    recent = [now_ms - m * 60_000 for m in range(100, 0, -1)]
    a_few_days_ago = [now_ms - 3 * day - m * 60_000 for m in range(180, 0, -1)]
    long_ago = [now_ms - 40 * day - h * hour for h in range(72, 0, -1)]
    times = sorted(long_ago + a_few_days_ago + recent)
    keep = dict(zip(times, kept(times, now_ms=now_ms), strict=True))
    assert all(keep[t] for t in recent)
    kept_days_ago = [t for t in a_few_days_ago if keep[t]]
    assert len({t // hour for t in a_few_days_ago}) == len(kept_days_ago)
    assert all(max(t2 for t2 in a_few_days_ago if t2 // hour == t // hour) == t
               for t in kept_days_ago)
    kept_long_ago = [t for t in long_ago if keep[t]]
    assert len(kept_long_ago) == len({t // day for t in long_ago})
    assert kept(times[:1], now_ms=now_ms + 1000 * day) == [True]  # the newest point stays


async def test_compaction_drops_what_the_rule_does_not_keep_and_the_rest_reads_the_same(engine):
    store = SqlDocumentStore(engine)
    room_id = await new_room(engine)
    rng = random.Random(11)
    board: dict[str, PathEntry] = {}
    expected: dict[datetime, list[PathEntry]] = {}
    # A point every 2 hours 40 to 30 days ago, every 20 minutes 4 to 1 days ago, and every
    # minute in the last hour.
    times = [now() - 40 * DAY + i * 2 * HOUR for i in range(10 * 12)]
    times += [now() - 4 * DAY + i * timedelta(minutes=20) for i in range(3 * 72 - 3)]
    times += [now() - timedelta(minutes=m) for m in range(60, 0, -1)]
    for i, at in enumerate(times):
        key = f"p{rng.randrange(400)}"
        board[key] = entry(key, rng.randrange(1000), ts=float(i))
        for _ in range(rng.randint(0, 5)):
            key = f"p{rng.randrange(400)}"
            if rng.random() < 0.25:
                board.pop(key, None)
            else:
                board[key] = entry(key, rng.randrange(1000), ts=float(i))
        assert await store.record_point(room_id, list(board.values()), at=at)
        expected[at] = sorted(board.values(), key=lambda e: (e.ts, e.key))
    before = await store.history(room_id)
    assert before is not None
    dropped = await store.compact_history()
    after = await store.history(room_id)
    assert after is not None and dropped == len(before) - len(after) > 0
    now_ms = int(now().timestamp() * 1000)
    ages = [now_ms - p.at_ms for p in after]
    day_ms = DAY.total_seconds() * 1000
    assert sum(1 for age in ages if age <= day_ms) == 60
    hours = [p.at_ms // 3_600_000 for p, age in zip(after, ages, strict=True)
             if day_ms < age <= 30 * day_ms]
    assert len(hours) == len(set(hours)) >= 3 * 24 - 2
    days = [p.at_ms // 86_400_000 for p, age in zip(after, ages, strict=True) if age > 30 * day_ms]
    assert len(days) == len(set(days)) >= 9
    # Every point that is left draws exactly what it drew before compaction.
    by_ms = {int(at.timestamp() * 1000): board for at, board in expected.items()}
    for point in after[::7]:
        found = await store.board_at(room_id, point.at)
        assert found is not None and found.point == point
        assert found.entries == by_ms[point.at_ms]
    assert await store.compact_history() == 0  # nothing more to drop


async def test_a_day_of_points_compacts_to_the_last_point_of_each_hour(engine):
    store = SqlDocumentStore(engine)
    room_id = await new_room(engine)
    board = {f"p{i}": entry(f"p{i}", i) for i in range(500)}
    start = (now() - 3 * DAY).replace(minute=0, second=0, microsecond=0)  # 24 whole hours
    for minute in range(24 * 60 // 5):  # a day, a point every 5 minutes
        key = f"p{minute % 500}"
        board[key] = entry(key, minute, ts=float(minute), color="#e03131")
        at = start + minute * timedelta(minutes=5)
        await store.record_point(room_id, list(board.values()), at=at)
    assert await store.compact_history() > 0
    points = await store.history(room_id)
    assert points is not None and len(points) == 24  # the last of each hour
    found = await store.board_at(room_id, now())
    assert found is not None
    assert found.entries == sorted(board.values(), key=lambda e: (e.ts, e.key))
