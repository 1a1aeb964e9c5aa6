"""History points in the database: recorded at snapshots, read as boards, compacted by age.

A point holds the board's drawn paths, not a copy of the Yjs document: history only ever
draws a point or restores it, and both need exactly the winners. Most points are diffs
(the paths whose winner changed since the room's previous point, and the paths no longer
drawn), as compressed JSON; a point is a base (every drawn path) when it is the room's
first, or when the diffs since the last base would outweigh that base. So a point costs
what changed, and reading one decodes at most a base and diffs of the same size again.

Compaction drops the points the retention rule (crdt/history.py `kept`) no longer keeps
and re-encodes the next kept point against the kept point before it.
"""

from __future__ import annotations

import json
import sys
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from crdt.boards import board_paths
from crdt.history import DAY_MS, HOUR_MS, KEEP_EVERY_POINT_MS, KEEP_HOURLY_MS, HistoryPoint, kept
from crdt.paths import PathEntry, Stroke
from persistence.models import HistoryPointRecord, Room

Board = dict[str, PathEntry]  # drawn paths by key

# Bounds on reading a point: at most this many diffs after its base...
MAX_CHAIN = 256
# ...weighing at most this many times the base (a tiny board's base is tiny: allow a floor).
MIN_CHAIN_BYTES = 4096


# -- encoding --------------------------------------------------------------------------------


def encode(sets: Iterable[PathEntry], drops: Iterable[str] = ()) -> bytes:
    body = {
        "set": [[e.key, e.d, e.color, e.width, e.ts] for e in sets],
        "drop": sorted(drops),
    }
    return zlib.compress(json.dumps(body, separators=(",", ":")).encode())


def apply(board: Board, data: bytes, *, base: bool) -> None:
    """Bring `board` from the previous point to this one (a base replaces it)."""
    body = json.loads(zlib.decompress(data))
    if base:
        board.clear()
    for key in body["drop"]:
        board.pop(key, None)
    for key, d, color, width, ts in body["set"]:
        board[key] = Stroke(key=key, ts=ts, d=d, color=color, width=width)


def diff(before: Board, after: Board) -> tuple[list[PathEntry], list[str]]:
    sets = [entry for key, entry in after.items() if before.get(key) != entry]
    drops = [key for key in before if key not in after]
    return sets, drops


def drawn(entries: Iterable[PathEntry]) -> Board:
    return {entry.key: entry for entry in entries if not entry.deleted}


def ordered(board: Board) -> list[PathEntry]:
    """As export draws them: by ts, then key."""
    return sorted(board.values(), key=lambda entry: (entry.ts, entry.key))


# -- writing points --------------------------------------------------------------------------


@dataclass(slots=True)
class _Row:
    at_ms: int
    base: bool
    data: bytes


def _chain(session: Session, room_id: str, upto_ms: int | None = None) -> list[_Row]:
    """The rows from the last base at or before `upto_ms` (default: the newest) up to it."""
    last_base = select(func.max(HistoryPointRecord.at_ms)).where(
        col(HistoryPointRecord.room_id) == room_id, col(HistoryPointRecord.base)
    )
    if upto_ms is not None:
        last_base = last_base.where(col(HistoryPointRecord.at_ms) <= upto_ms)
    start = session.exec(last_base).one()
    return [] if start is None else _rows(session, room_id, start, upto_ms)


def _rows(session: Session, room_id: str, from_ms: int, upto_ms: int | None) -> list[_Row]:
    at = col(HistoryPointRecord.at_ms)
    query = select(
        HistoryPointRecord.at_ms, HistoryPointRecord.base, HistoryPointRecord.data
    ).where(col(HistoryPointRecord.room_id) == room_id, at >= from_ms)
    if upto_ms is not None:
        query = query.where(at <= upto_ms)
    rows = session.exec(query.order_by(at)).all()
    return [_Row(at_ms, base, data) for at_ms, base, data in rows]


def _board(rows: list[_Row]) -> Board:
    board: Board = {}
    for row in rows:
        apply(board, row.data, base=row.base)
    return board


def _needs_base(chain: list[_Row], data: bytes) -> bool:
    """Whether a point after `chain` should be a base rather than the diff `data`."""
    weight = sum(len(row.data) for row in chain[1:]) + len(data)
    return len(chain) > MAX_CHAIN or weight > max(len(chain[0].data), MIN_CHAIN_BYTES)


def record_point(
    session: Session, room_id: str, entries: Iterable[PathEntry], *, at_ms: int
) -> bool:
    """Add a point to the room's history in the caller's transaction, unless nothing drawn
    changed since its last point. Its time is `at_ms`, or just after the last point's
    (times increase per room, whichever process's clock wrote them). Returns whether a
    point was added."""
    board = drawn(entries)
    chain = _chain(session, room_id)
    if chain:
        sets, drops = diff(_board(chain), board)
        if not sets and not drops:
            return False
        at_ms = max(at_ms, chain[-1].at_ms + 1)
        data, base = encode(sets, drops), False
        if _needs_base(chain, data):
            data, base = encode(board.values()), True
    else:
        data, base = encode(board.values()), True
    session.add(
        HistoryPointRecord(room_id=room_id, at_ms=at_ms, paths=len(board), base=base, data=data)
    )
    return True


def record_creation(session: Session, room_id: str, state: bytes | None, *, at_ms: int) -> None:
    """A new room's first point: what its import brought (nothing for a blank board)."""
    # The import already checked every version against MAX_PATH_DATA: read them all.
    entries = board_paths([state], max_path_data=sys.maxsize) if state is not None else []
    record_point(session, room_id, entries, at_ms=at_ms)


# -- reading ---------------------------------------------------------------------------------


def points(session: Session, room_id: str) -> list[HistoryPoint]:
    """Newest first."""
    rows = session.exec(
        select(HistoryPointRecord.at_ms, HistoryPointRecord.paths)
        .where(col(HistoryPointRecord.room_id) == room_id)
        .order_by(col(HistoryPointRecord.at_ms).desc())
    ).all()
    return [HistoryPoint(at_ms=at_ms, paths=paths) for at_ms, paths in rows]


def board_at(session: Session, room_id: str, at_ms: int) -> tuple[HistoryPoint, Board] | None:
    """The newest point at or before `at_ms` and its board (None before the first point)."""
    found = session.exec(
        select(HistoryPointRecord.at_ms, HistoryPointRecord.paths)
        .where(
            col(HistoryPointRecord.room_id) == room_id, col(HistoryPointRecord.at_ms) <= at_ms
        )
        .order_by(col(HistoryPointRecord.at_ms).desc())
        .limit(1)
    ).first()
    if found is None:
        return None
    point = HistoryPoint(at_ms=found[0], paths=found[1])
    return point, _board(_chain(session, room_id, point.at_ms))


# -- compaction ------------------------------------------------------------------------------


def rooms_to_compact(session: Session, *, now_ms: int, since_ms: int = 0) -> list[str]:
    """Rooms with points the retention rule drops among those that aged past a tier's
    limit since `since_ms` (a previous pass's `now_ms`; 0 looks at everything)."""
    rooms: set[str] = set()
    for keep_ms, bucket in ((KEEP_EVERY_POINT_MS, HOUR_MS), (KEEP_HOURLY_MS, DAY_MS)):
        at = col(HistoryPointRecord.at_ms)
        window_start = max(since_ms - keep_ms, 0) // bucket * bucket
        found = session.exec(
            select(HistoryPointRecord.room_id)
            .where(at < now_ms - keep_ms, at >= window_start)
            .group_by(col(HistoryPointRecord.room_id), at // bucket)
            .having(func.count() > 1)
        ).all()
        rooms.update(found)
    return sorted(rooms)


def compact_room(session: Session, room_id: str, *, now_ms: int) -> int:
    """Drop the room's points the retention rule no longer keeps, in the caller's
    transaction; returns how many were dropped."""
    # Taking the room row's lock first, as snapshots do: one writer of a room's history.
    session.exec(update(Room).where(col(Room.id) == room_id).values(id=col(Room.id)))
    meta = session.exec(
        select(HistoryPointRecord.at_ms, HistoryPointRecord.base)
        .where(col(HistoryPointRecord.room_id) == room_id)
        .order_by(col(HistoryPointRecord.at_ms))
    ).all()
    keep = kept([at_ms for at_ms, _ in meta], now_ms=now_ms)
    dropped = [i for i, k in enumerate(keep) if not k]
    if not dropped:
        return 0
    # Re-encode from the last base at or before the first dropped point up to the first
    # kept point after the last: the points after that stay as they are.
    start = max(i for i in range(dropped[0] + 1) if meta[i][1])
    end = next(i for i in range(dropped[-1] + 1, len(meta)) if keep[i])
    rows = _rows(session, room_id, meta[start][0], meta[end][0])
    board: Board = {}
    kept_board: Board = {}
    chain: list[_Row] = []  # the kept rows since the last kept base, as re-encoded
    previous_kept = True
    for row, keep_it in zip(rows, keep[start : end + 1], strict=True):
        apply(board, row.data, base=row.base)
        if not keep_it:
            previous_kept = False
            continue
        if not previous_kept:
            sets, drops = diff(kept_board, board)
            row.data, row.base = encode(sets, drops), False
            if not chain or _needs_base(chain, row.data):
                row.data, row.base = encode(board.values()), True
            session.exec(
                update(HistoryPointRecord)
                .where(
                    col(HistoryPointRecord.room_id) == room_id,
                    col(HistoryPointRecord.at_ms) == row.at_ms,
                )
                .values(data=row.data, base=row.base)
            )
        chain = [row] if row.base else [*chain, row]
        kept_board = dict(board)
        previous_kept = True
    doomed = [meta[i][0] for i in dropped]
    for first in range(0, len(doomed), 500):
        session.exec(
            delete(HistoryPointRecord).where(
                col(HistoryPointRecord.room_id) == room_id,
                col(HistoryPointRecord.at_ms).in_(doomed[first : first + 500]),
            )
        )
    return len(dropped)
