"""Backup time and size for a big board.

    .venv/bin/python bench/backup_size.py [--paths 20000] [--keep-dir DIR]

Builds one room of N freehand strokes (about 30 points each) through the real
document store on a fresh SQLite file: the strokes arrive as log appends of 50 paths
(as batches from clients would), then a snapshot compacts them (the steady state).
For both states it runs `whiteboard backup` as an operator would, and prints the
database size, the backup size, the command's wall time (Python start-up included)
and the time of the copy and its integrity check alone.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio
from pycrdt import Doc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crdt import paths  # noqa: E402
from persistence.backup import backup_sqlite, check_database  # noqa: E402
from persistence.db import create_db_engine  # noqa: E402
from persistence.documents import SqlDocumentStore  # noqa: E402
from persistence.migrate import migrate  # noqa: E402
from persistence.rooms import RoomRepository  # noqa: E402

BATCH = 50
COLORS = ["#1e1e1e", "#e03131", "#2f9e44", "#1971c2", "#f08c00", "#9c36b5"]


def freehand(rng: random.Random) -> str:
    x, y = rng.uniform(0, 1920), rng.uniform(0, 1080)
    parts = [f"M {x:.1f} {y:.1f}"]
    for _ in range(30):
        x += rng.uniform(-12, 12)
        y += rng.uniform(-12, 12)
        parts.append(f"L {x:.1f} {y:.1f}")
    return " ".join(parts)


async def build(db: Path, n: int) -> tuple[str, list[int], bytes]:
    engine = create_db_engine(f"sqlite:///{db}")
    try:
        migrate(engine)
        room = await RoomRepository(engine).create_room(creator_ip="bench")
        store = SqlDocumentStore(engine)
        rng = random.Random(7)
        doc = Doc()
        seqs = []
        ts = 1_764_000_000_000.0
        for start in range(0, n, BATCH):
            before = doc.get_state()
            for i in range(start, min(n, start + BATCH)):
                value = {"d": freehand(rng), "color": rng.choice(COLORS),
                         "width": rng.choice([1, 2, 3, 5, 8])}
                paths.write_path(doc, f"p{i:06d}-{rng.getrandbits(40):010x}", value, ts=ts + i)
            seqs.append(await store.append(room.id, doc.get_update(before)))
        return room.id, seqs, doc.get_update()
    finally:
        engine.dispose()


async def compact(db: Path, room_id: str, seqs: list[int], state: bytes) -> None:
    engine = create_db_engine(f"sqlite:///{db}")
    try:
        await SqlDocumentStore(engine).snapshot(room_id, state=state, covered_seqs=seqs)
        with engine.connect() as conn:  # fold the WAL in, so the file size is the real one
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()


def measure(db: Path, label: str) -> None:
    env = {**os.environ, "WHITEBOARD_DATABASE_URL": f"sqlite:///{db}",
           "WHITEBOARD_DATA_DIR": str(db.parent)}
    target = db.parent / f"backup-{label}.db"
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "server.cli", "backup", str(target)],
                          env=env, capture_output=True, text=True, cwd=db.parent)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"whiteboard backup failed: {done.stderr.strip()}")
    alone = db.parent / f"alone-{label}.db"
    info = backup_sqlite(db, alone)
    check_started = time.perf_counter()
    check_database(alone)
    check = time.perf_counter() - check_started
    wal = db.with_name(db.name + "-wal")
    size = db.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    print(f"{label:>9}: database {size / 1e6:6.2f} MB | backup {target.stat().st_size / 1e6:6.2f}"
          f" MB | `whiteboard backup` {wall:5.2f} s wall | copy + check {info.seconds:5.2f} s"
          f" (of which integrity_check {check:5.2f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paths", type=int, default=20_000)
    parser.add_argument("--keep-dir", help="build here and keep the files (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep_dir or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        db = folder / "whiteboard.db"
        started = time.perf_counter()
        room_id, seqs, state = anyio.run(build, db, args.paths)
        print(f"built {args.paths} paths in {len(seqs)} log entries "
              f"in {time.perf_counter() - started:.1f} s; document {len(state) / 1e6:.2f} MB")
        measure(db, "log only")
        anyio.run(compact, db, room_id, seqs, state)
        measure(db, "compacted")


if __name__ == "__main__":
    main()
