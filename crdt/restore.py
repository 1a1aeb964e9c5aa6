"""Restore a history point as a change (docs/protocol.md §7), never as a rollback.

For every path whose current winner draws something other than its winner at the point
(another `d`, colour or width, or drawn where it was erased or not yet drawn, or the
reverse), the point's version is pushed with a new `ts`: a tombstone where the point has
no drawn path. Nothing is deleted but what the new versions supersede, as any writer does,
so a later restore to a newer point brings everything back.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pycrdt import Doc

from crdt.paths import DEFAULT_MAX_PATH_DATA, PathEntry, read_paths, write_path

Look = tuple[str | None, str | None, float | None] | None


def _look(entry: PathEntry | None) -> Look:
    """What a winner draws (its ts aside): None for nothing."""
    if entry is None or entry.deleted:
        return None
    return (entry.d, entry.color, entry.width)


def restore_board(
    doc: Doc[Any],
    point: Iterable[PathEntry],
    *,
    now_ms: float,
    max_path_data: int = DEFAULT_MAX_PATH_DATA,
) -> int:
    """Write the point's versions where the board differs; returns how many paths changed.

    Must run inside the caller's transaction (its origin decides how the change travels).
    Each version gets `ts` = `now_ms`, or just past the current winner's where that is
    ahead of the clock (a writer's clock may run up to 60 s fast), so that it wins.
    """
    then = {entry.key: entry for entry in point if not entry.deleted}
    now = {entry.key: entry for entry in read_paths(doc, max_path_data=max_path_data)}
    changed = 0
    for key in sorted(then.keys() | now.keys()):
        old, current = then.get(key), now.get(key)
        if _look(old) == _look(current):
            continue
        value: dict[str, Any] = (
            {"deleted": True}
            if old is None
            else {"d": old.d, "color": old.color, "width": old.width}
        )
        ts = now_ms if current is None or current.ts < now_ms else current.ts + 1
        try:
            write_path(doc, key, value, ts=ts, max_path_data=max_path_data)
        except ValueError:  # a `d` longer than this server's MAX_PATH_DATA: left as it is
            continue
        changed += 1
    return changed
