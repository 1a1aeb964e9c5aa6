"""History points (docs/protocol.md §7): what a point is, which are kept, where they are read.

A point is the board as it stood at a snapshot: its drawn paths (winners that are not
tombstones). Points are kept by age: every point of the last 24 hours, then the last
point of each hour for 30 days, then the last point of each day, indefinitely.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from crdt.paths import PathEntry

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
KEEP_EVERY_POINT_MS = DAY_MS  # every point younger than this is kept
KEEP_HOURLY_MS = 30 * DAY_MS  # then the last of each hour up to this age, then of each day


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    at_ms: int  # the snapshot's time, milliseconds since the epoch (UTC)
    paths: int  # drawn paths at that point

    @property
    def at(self) -> datetime:
        return from_ms(self.at_ms)


@dataclass(frozen=True, slots=True)
class PointBoard:
    """The board at the newest point at or before some time (no point: an empty board)."""

    point: HistoryPoint | None
    entries: list[PathEntry]  # the drawn paths, ordered by ts then key (as export draws them)


class HistoryStore(Protocol):
    """Where the history of rooms is read (implemented by persistence's SqlDocumentStore)."""

    async def history(self, room_id: str) -> list[HistoryPoint] | None:
        """The room's points, newest first; None when there is no such room."""
        ...

    async def board_at(self, room_id: str, at: datetime) -> PointBoard | None:
        """The board at the newest point at or before `at`; None when there is no such room."""
        ...


def to_ms(at: datetime) -> int:
    """Milliseconds since the epoch; a naive datetime is taken as UTC."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return int(at.timestamp() * 1000 // 1)


def from_ms(at_ms: int) -> datetime:
    return datetime.fromtimestamp(at_ms / 1000, UTC)


def iso(at_ms: int) -> str:
    """`2026-11-26T10:00:00.123Z`: what the API and the CLI show, and read back exactly."""
    return from_ms(at_ms).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def kept(times_ms: Sequence[int], *, now_ms: int) -> list[bool]:
    """Which of a room's points (times in ascending order) the retention rule keeps.

    A point older than 24 hours is kept only if it is the last of its hour (of its day
    when it is older than 30 days), so the newest point is always kept.
    """
    keep = []
    for i, at in enumerate(times_ms):
        age = now_ms - at
        if age <= KEEP_EVERY_POINT_MS or i + 1 == len(times_ms):
            keep.append(True)
            continue
        bucket = HOUR_MS if age <= KEEP_HOURLY_MS else DAY_MS
        keep.append(times_ms[i + 1] // bucket != at // bucket)
    return keep
