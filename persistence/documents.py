"""The DocumentStore port on SQL: load = snapshot + log tail; append; snapshot + compact.

Written on SQLModel rather than pycrdt-store: its 0.1.5 SQLite store was seen losing
history when squashing without compression callbacks, and failing to load with them.
"""

from __future__ import annotations

from anyio import to_thread
from sqlalchemy import Engine, delete, insert, update
from sqlmodel import Session, select

from crdt.paths import PathEntry
from crdt.ports import StoredDocument
from persistence.models import DocSnapshot, DocUpdate, PathRecord, Room, utcnow


class SqlDocumentStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def load(self, room_id: str) -> StoredDocument | None:
        return await to_thread.run_sync(self._load, room_id)

    async def append(self, room_id: str, update: bytes) -> int:
        return await to_thread.run_sync(self._append, room_id, update)

    async def snapshot(
        self, room_id: str, *, state: bytes, paths: list[PathEntry], upto_seq: int
    ) -> None:
        await to_thread.run_sync(self._snapshot, room_id, state, paths, upto_seq)

    async def read_paths(self, room_id: str) -> list[PathEntry] | None:
        """The materialised rows of the last snapshot (None if the room does not exist)."""
        return await to_thread.run_sync(self._read_paths, room_id)

    def _load(self, room_id: str) -> StoredDocument | None:
        with Session(self._engine) as session:
            if session.get(Room, room_id) is None:
                return None
            snap = session.get(DocSnapshot, room_id)
            after = snap.upto_seq if snap else 0
            rows = session.exec(
                select(DocUpdate.seq, DocUpdate.data)
                .where(DocUpdate.room_id == room_id, DocUpdate.seq > after)
                .order_by(DocUpdate.seq)
            ).all()
        updates = ([snap.state] if snap else []) + [data for _, data in rows]
        last_seq = rows[-1][0] if rows else after
        return StoredDocument(updates=updates, last_seq=last_seq)

    def _append(self, room_id: str, data: bytes) -> int:
        now = utcnow()
        with Session(self._engine) as session:
            row = DocUpdate(room_id=room_id, data=data, created_at=now)
            session.add(row)
            session.exec(update(Room).where(Room.id == room_id).values(last_activity_at=now))
            session.commit()
            assert row.seq is not None
            return row.seq

    def _snapshot(self, room_id: str, state: bytes, paths: list[PathEntry], upto_seq: int) -> None:
        with Session(self._engine) as session:
            snap = session.get(DocSnapshot, room_id)
            if snap is None:
                snap = DocSnapshot(room_id=room_id, state=state, upto_seq=upto_seq)
            else:
                snap.state, snap.upto_seq, snap.created_at = state, upto_seq, utcnow()
            session.add(snap)
            session.exec(delete(PathRecord).where(PathRecord.room_id == room_id))
            if paths:
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
                        for p in paths
                    ],
                )
            # Only rows this snapshot contains: another process may have appended newer ones.
            session.exec(
                delete(DocUpdate).where(DocUpdate.room_id == room_id, DocUpdate.seq <= upto_seq)
            )
            session.commit()

    def _read_paths(self, room_id: str) -> list[PathEntry] | None:
        with Session(self._engine) as session:
            if session.get(Room, room_id) is None:
                return None
            rows = session.exec(
                select(PathRecord)
                .where(PathRecord.room_id == room_id)
                .order_by(PathRecord.ts, PathRecord.key)
            ).all()
            return [
                PathEntry(
                    key=r.key, ts=r.ts, deleted=r.deleted, d=r.d, color=r.color, width=r.width
                )
                for r in rows
            ]
