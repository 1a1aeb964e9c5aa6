"""The DocumentStore port on SQL: load = snapshot + log; append; snapshot + compact.

Written on SQLModel rather than pycrdt-store: its 0.1.5 SQLite store was seen losing
history when squashing without compression callbacks, and failing to load with them.
"""

from __future__ import annotations

from typing import Any

import anyio
from anyio import to_thread
from anyio.abc import TaskStatus
from pycrdt import Doc, merge_updates
from sqlalchemy import Engine, delete, insert, update
from sqlmodel import Session, col, select

from crdt.paths import DEFAULT_MAX_PATH_DATA, PathEntry, path_entry, read_paths
from crdt.ports import StoredDocument
from persistence.db import full_raises_storage_full
from persistence.log_writer import GroupCommitLog
from persistence.models import DocSnapshot, DocUpdate, PathRecord, Room, utcnow

# A room's last_activity_at is a coarse fact: refreshing it on every append would double
# the log's writes for nothing anyone can see.
TOUCH_EVERY_S = 5.0


class SqlDocumentStore:
    def __init__(self, engine: Engine, *, max_path_data: int = DEFAULT_MAX_PATH_DATA) -> None:
        self._engine = engine
        self._max_path_data = max_path_data  # path rows hold only valid versions
        self._log = GroupCommitLog(self._append_many)
        self._touched: dict[str, float] = {}  # when each room's last_activity_at was written

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """The log writer: run it for group commits (without it, each append commits alone)."""
        await self._log.run(task_status=task_status)

    async def load(self, room_id: str) -> StoredDocument | None:
        return await to_thread.run_sync(self._load, room_id)

    async def append(self, room_id: str, update: bytes) -> int:
        """Raises StorageFull while the database is full (so does every append of its round)."""
        return await self._log.append(room_id, update)

    async def snapshot(self, room_id: str, *, state: bytes, covered_seqs: list[int]) -> None:
        """Raises StorageFull while the database is full; the log is then left as it was."""
        await to_thread.run_sync(self._snapshot, room_id, state, covered_seqs)

    async def read_paths(self, room_id: str) -> list[PathEntry] | None:
        """The path rows of the last snapshot (None if the room does not exist)."""
        return await to_thread.run_sync(self._read_paths, room_id)

    def _load(self, room_id: str) -> StoredDocument | None:
        with Session(self._engine) as session:
            if session.get(Room, room_id) is None:
                return None
            snap = session.get(DocSnapshot, room_id)
            # Every remaining entry: the snapshot's own are deleted with it, so whatever is
            # left (even an entry that committed late, below the snapshot's mark) is needed.
            rows = session.exec(
                select(DocUpdate.seq, DocUpdate.data)
                .where(col(DocUpdate.room_id) == room_id)
                .order_by(col(DocUpdate.seq))
            ).all()
        updates = ([snap.state] if snap else []) + [data for _, data in rows]
        return StoredDocument(updates=updates, seqs=[seq for seq, _ in rows if seq is not None])

    def _append_many(self, appends: list[tuple[str, bytes]]) -> list[int]:
        now = utcnow()
        with full_raises_storage_full(), Session(self._engine) as session:
            # One multi-row INSERT ... RETURNING, in the order of the appends.
            seqs = session.scalars(
                insert(DocUpdate).returning(col(DocUpdate.seq), sort_by_parameter_order=True),
                [
                    {"room_id": room_id, "data": data, "created_at": now}
                    for room_id, data in appends
                ],
            ).all()
            stale = [
                room_id
                for room_id in {room_id for room_id, _ in appends}
                if now.timestamp() - self._touched.get(room_id, 0.0) >= TOUCH_EVERY_S
            ]
            if stale:
                session.exec(
                    update(Room).where(col(Room.id).in_(stale)).values(last_activity_at=now)
                )
            session.commit()
        for room_id in stale:
            self._touched[room_id] = now.timestamp()
        return [seq for seq in seqs if seq is not None]

    def _snapshot(self, room_id: str, state: bytes, covered_seqs: list[int]) -> None:
        with full_raises_storage_full(), Session(self._engine) as session:
            # Writing the room row first takes the lock (SQLite's writer lock, PostgreSQL's
            # row lock): snapshots of one room from several processes run one at a time.
            session.exec(update(Room).where(col(Room.id) == room_id).values(id=col(Room.id)))
            snap = session.get(DocSnapshot, room_id)
            if snap is None:
                snap = DocSnapshot(
                    room_id=room_id, state=state, upto_seq=max(covered_seqs, default=0)
                )
            else:
                snap.state = merge_updates(snap.state, state)
                snap.upto_seq = max([snap.upto_seq, *covered_seqs])
                snap.created_at = utcnow()
            session.add(snap)
            doc: Doc[Any] = Doc()
            doc.apply_update(snap.state)
            entries = read_paths(doc, max_path_data=self._max_path_data)
            session.exec(delete(PathRecord).where(col(PathRecord.room_id) == room_id))
            if entries:
                session.exec(
                    insert(PathRecord),
                    params=[
                        {
                            "room_id": room_id,
                            "key": p.key,
                            "d": p.d,
                            "color": p.color,
                            "width": p.width,
                            "ts": p.ts,
                            "deleted": p.deleted,
                        }
                        for p in entries
                    ],
                )
            for start in range(0, len(covered_seqs), 500):
                chunk = covered_seqs[start : start + 500]
                session.exec(
                    delete(DocUpdate).where(
                        col(DocUpdate.room_id) == room_id, col(DocUpdate.seq).in_(chunk)
                    )
                )
            session.commit()

    def _read_paths(self, room_id: str) -> list[PathEntry] | None:
        with Session(self._engine) as session:
            if session.get(Room, room_id) is None:
                return None
            rows = session.exec(
                select(PathRecord)
                .where(col(PathRecord.room_id) == room_id)
                .order_by(col(PathRecord.ts), col(PathRecord.key))
            ).all()
            return [
                path_entry(
                    key=r.key, ts=r.ts, deleted=r.deleted, d=r.d, color=r.color, width=r.width
                )
                for r in rows
            ]
