"""What a day of history costs in the database, against one snapshot of the board.

    .venv/bin/python bench/history_storage.py [--paths 20000] [--per-minute 60]

Builds a board of N freehand strokes (about 30 points each), takes its snapshot through
the real document store, then simulates a day of continuous editing: a snapshot every
minute, each after `--per-minute` changes (half new strokes, half erasures of the oldest,
so the board stays about its size).
The day's 1,440 points are written through the store with past timestamps (the day ended
48 hours ago, so the hourly rule applies to all of it) and compacted by the retention
rule; then the same day is compacted again as if 31 days had passed (the daily rule).
Prints the history's bytes (the stored point data, and the SQLite file's growth) at each
stage next to the size of one snapshot.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
from sqlalchemy import Engine, func, select
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crdt.boards import board_state, new_path_id  # noqa: E402
from crdt.paths import PathEntry  # noqa: E402
from persistence.db import create_db_engine  # noqa: E402
from persistence.documents import SqlDocumentStore  # noqa: E402
from persistence.migrate import migrate  # noqa: E402
from persistence.models import HistoryPointRecord, Room  # noqa: E402

COLORS = ["#1e1e1e", "#e03131", "#2f9e44", "#1971c2", "#f08c00", "#9c36b5"]


def freehand(rng: random.Random) -> str:
    x, y = rng.uniform(0, 1920), rng.uniform(0, 1080)
    parts = [f"M {x:.1f} {y:.1f}"]
    for _ in range(30):
        x += rng.uniform(-12, 12)
        y += rng.uniform(-12, 12)
        parts.append(f"L {x:.1f} {y:.1f}")
    return " ".join(parts)


def stroke(rng: random.Random, key: str, ts: float) -> PathEntry:
    return PathEntry(key=key, ts=ts, deleted=False, d=freehand(rng), color=rng.choice(COLORS),
                     width=float(rng.choice([1, 2, 3, 5, 8])))


def history_bytes(engine: Engine, room_id: str) -> tuple[int, int]:
    with Session(engine) as session:
        count, size = session.exec(
            select(func.count(), func.coalesce(func.sum(func.length(HistoryPointRecord.data)), 0))
            .where(HistoryPointRecord.room_id == room_id)
        ).one()
    return int(count), int(size)


def file_bytes(engine: Engine, db: Path) -> int:
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.exec_driver_sql("VACUUM")
    return db.stat().st_size


async def run(db: Path, n: int, per_minute: int, minutes: int = 24 * 60) -> None:
    engine = create_db_engine(f"sqlite:///{db}")
    migrate(engine)
    store = SqlDocumentStore(engine)
    rng = random.Random(7)
    day_start = datetime.now(UTC) - timedelta(hours=72)
    room_id = "00000000-0000-4000-8000-00000000beef"
    with Session(engine) as session:
        session.add(Room(id=room_id, created_at=day_start - timedelta(days=1)))
        session.commit()
    started = time.perf_counter()
    board = {key: stroke(rng, key, 1.0) for key in (new_path_id() for _ in range(n))}
    values = [{"d": e.d, "color": e.color, "width": e.width} for e in board.values()]
    snapshot = len(board_state(values, now_ms=1.0))  # what a room's snapshot row holds
    await store.record_point(room_id, list(board.values()), at=day_start - timedelta(minutes=1))
    empty = file_bytes(engine, db)
    print(f"board: {n} paths; one snapshot {snapshot / 1e6:.2f} MB (built in "
          f"{time.perf_counter() - started:.1f} s)")
    started = time.perf_counter()
    for minute in range(minutes):
        ts = float(minute + 2)
        for _ in range(per_minute):
            if rng.random() < 0.5 and board:
                board.pop(next(iter(board)))  # erase the oldest stroke
            else:
                key = new_path_id()
                board[key] = stroke(rng, key, ts)
        await store.record_point(room_id, list(board.values()),
                                 at=day_start + timedelta(minutes=minute))
    count, size = history_bytes(engine, room_id)
    grown = file_bytes(engine, db) - empty
    print(f"a day of points ({count}, written in {time.perf_counter() - started:.0f} s): "
          f"{size / 1e6:.2f} MB of point data ({size / snapshot:.1f} snapshots), "
          f"file +{grown / 1e6:.2f} MB")
    for label, now in (("after 24 h (last point of each hour)", datetime.now(UTC)),
                       ("after 30 days (last point of each day)",
                        datetime.now(UTC) + timedelta(days=31))):
        await store.compact_history(now=now)
        count, size = history_bytes(engine, room_id)
        grown = file_bytes(engine, db) - empty
        print(f"{label}: {count} points, {size / 1e6:.2f} MB of point data "
              f"({size / snapshot:.2f} snapshots), file +{grown / 1e6:.2f} MB")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paths", type=int, default=20_000)
    parser.add_argument("--per-minute", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        anyio.run(run, Path(tmp) / "whiteboard.db", args.paths, args.per_minute)


if __name__ == "__main__":
    main()
