"""The DocumentStore port on SQL: load = snapshot + log; append; snapshot + compact.

Written on SQLModel rather than pycrdt-store: its 0.1.5 SQLite store was seen losing
history when squashing without compression callbacks, and failing to load with them.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

import anyio
from anyio import to_thread
from anyio.abc import TaskStatus
from pycrdt import Doc, merge_updates
from sqlalchemy import Engine, delete, insert, update
from sqlmodel import Session, col, select

from crdt.history import HistoryPoint, PointBoard, to_ms
from crdt.paths import DEFAULT_MAX_PATH_DATA, PathEntry, path_entry, read_paths
from crdt.ports import StoredDocument
from persistence import history
from persistence.db import full_raises_storage_full
from persistence.log_writer import GroupCommitLog
from persistence.models import DocSnapshot, DocUpdate, PathRecord, Room, utcnow

# A room's last_activity_at is a coarse fact: refreshing it on every append would double
# the log's writes for nothing anyone can see.
TOUCH_EVERY_S = 5.0

log = logging.getLogger("whiteboard.history")


class SqlDocumentStore:
    def __init__(
        self,
        engine: Engine,
        *,
        max_path_data: int = DEFAULT_MAX_PATH_DATA,
        history_compact_interval_s: float = 60.0,
    ) -> None:
        self._engine = engine
        self._compact_interval_s = history_compact_interval_s
        self._compacted_at_ms = 0  # the last compaction pass's clock (0: none yet)
        self._max_path_data = max_path_data  # path rows hold only valid versions
        self._log = GroupCommitLog(self._append_many)
        self._touched: dict[str, float] = {}  # when each room's last_activity_at was written

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """The log writer: run it for group commits (without it, each append commits alone);
        and the history's compaction, a pass at start and every `history_compact_interval_s`."""
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._compact_loop)
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
            history.record_point(session, room_id, entries, at_ms=to_ms(utcnow()))
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

    # -- history (docs/protocol.md §7; persistence/history.py) --------------------------------

    async def history(self, room_id: str) -> list[HistoryPoint] | None:
        """The room's history points, newest first (None if the room does not exist)."""
        return await to_thread.run_sync(self._history, room_id)

    async def board_at(self, room_id: str, at: datetime) -> PointBoard | None:
        """The board at the newest point at or before `at` (None if the room does not exist)."""
        return await to_thread.run_sync(self._board_at, room_id, to_ms(at))

    async def record_point(self, room_id: str, entries: list[PathEntry], *, at: datetime) -> bool:
        """Add a point as a snapshot would, dated `at` (tests and benchmarks write the past
        this way); False if nothing drawn changed since the room's last point."""
        return await to_thread.run_sync(self._record_point, room_id, entries, to_ms(at))

    async def compact_history(self, *, now: datetime | None = None) -> int:
        """One pass of the retention rule over every room by the clock (or `now`); returns
        how many points were dropped. Runs by itself in `run`."""
        now_ms = to_ms(now) if now is not None else int(time.time() * 1000)
        since, self._compacted_at_ms = self._compacted_at_ms, now_ms
        rooms = await to_thread.run_sync(self._rooms_to_compact, now_ms, since)
        dropped = 0
        for room_id in rooms:  # one transaction per room: the writer lock is held briefly
            dropped += await to_thread.run_sync(self._compact_room, room_id, now_ms)
        if dropped:
            log.info("history compacted", extra={"rooms": len(rooms), "points_dropped": dropped})
        return dropped

    async def _compact_loop(self) -> None:
        while True:
            try:
                await self.compact_history()
            except Exception:
                self._compacted_at_ms = 0  # look at everything again next time
                log.exception("compacting history failed; will retry")
            await anyio.sleep(self._compact_interval_s)

    def _history(self, room_id: str) -> list[HistoryPoint] | None:
        with Session(self._engine) as session:
            if session.get(Room, room_id) is None:
                return None
            return history.points(session, room_id)

    def _board_at(self, room_id: str, at_ms: int) -> PointBoard | None:
        with Session(self._engine) as session:
            if session.get(Room, room_id) is None:
                return None
            found = history.board_at(session, room_id, at_ms)
        if found is None:
            return PointBoard(point=None, entries=[])
        point, board = found
        return PointBoard(point=point, entries=history.ordered(board))

    def _record_point(self, room_id: str, entries: list[PathEntry], at_ms: int) -> bool:
        with full_raises_storage_full(), Session(self._engine) as session:
            session.exec(update(Room).where(col(Room.id) == room_id).values(id=col(Room.id)))
            added = history.record_point(session, room_id, entries, at_ms=at_ms)
            session.commit()
            return added

    def _rooms_to_compact(self, now_ms: int, since_ms: int) -> list[str]:
        with Session(self._engine) as session:
            return history.rooms_to_compact(session, now_ms=now_ms, since_ms=since_ms)

    def _compact_room(self, room_id: str, now_ms: int) -> int:
        with full_raises_storage_full(), Session(self._engine) as session:
            dropped = history.compact_room(session, room_id, now_ms=now_ms)
            session.commit()
            return dropped
