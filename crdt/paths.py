"""The `paths` map: one last-write-wins register per stroke (docs/protocol.md §3).

A register is a `Y.Array` of versions. Every replica picks the same winner
from the same versions, so the order must be exactly the one JavaScript
clients compute: ts compared as doubles, ties broken by the canonical JSON
text compared by UTF-16 code units.

A little over 300 lines because reading, writing, validating and settling a register
(upkeep) must agree on every detail of the winner; split apart, one would drift.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pycrdt import Array, Doc, Map

from crdt.canonical import canonical, utf16
from crdt.patterns import is_hex_color, is_path_syntax

PATHS = "paths"
FUTURE_SLACK_MS = 60_000
MAX_WIDTH = 1000
# The longest `d` a version may hold, in characters (docs/protocol.md §3, `MAX_PATH_DATA`);
# the default of WHITEBOARD_MAX_PATH_DATA (server/config.py), which a server passes on.
DEFAULT_MAX_PATH_DATA = 262_144

_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
_STROKE_FIELDS = frozenset({"d", "color", "width", "ts"})
_TOMBSTONE_FIELDS = frozenset({"deleted", "ts"})


@dataclass(frozen=True, slots=True)
class Stroke:
    """A register whose winning version draws: as stored in path rows and drawn in SVG."""

    deleted: ClassVar[Literal[False]] = False
    key: str
    ts: float
    d: str
    color: str
    width: float


@dataclass(frozen=True, slots=True)
class Tombstone:
    """A register whose winning version erased its stroke."""

    deleted: ClassVar[Literal[True]] = True
    # A path row has these columns for either kind; a tombstone leaves them empty.
    d: ClassVar[None] = None
    color: ClassVar[None] = None
    width: ClassVar[None] = None
    key: str
    ts: float


# A register's winning version (read_paths), tagged by `deleted`.
PathEntry = Stroke | Tombstone


def path_entry(
    *,
    key: str,
    ts: float,
    deleted: bool,
    d: str | None = None,
    color: str | None = None,
    width: float | None = None,
) -> PathEntry:
    """The entry a path row's columns describe.

    A row that is not deleted but lacks a stroke field has nothing to draw:
    it reads as a tombstone, which is how the export has always treated it.
    """
    if deleted or d is None or color is None or width is None:
        return Tombstone(key=key, ts=ts)
    return Stroke(key=key, ts=ts, d=d, color=color, width=width)


def is_path_data(d: object, *, max_path_data: int = DEFAULT_MAX_PATH_DATA) -> bool:
    """True if `d` is non-empty SVG 1.1 path data of at most `max_path_data` characters."""
    return isinstance(d, str) and len(d) <= max_path_data and is_path_syntax(d)


def paths_map(doc: Doc[Any]) -> Map[Any]:
    paths: Map[Any] = doc.get(PATHS, type=Map)
    return paths


# -- the last-write-wins order ---------------------------------------------------------------


def wins(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """True if version `a` beats version `b`: greater ts, ties by greater canonical text."""
    ts_a, ts_b = float(a["ts"]), float(b["ts"])
    if ts_a != ts_b:
        return ts_a > ts_b
    return utf16(canonical(a)) > utf16(canonical(b))


def winner(versions: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """The version that beats all others, or None if there is none.

    The reduce of docs/protocol.md §3: `versions.reduce((a, b) => (wins(a, b) ? a : b))`.
    """
    best: dict[str, Any] | None = None
    for version in versions:
        if best is None or not wins(best, version):
            best = version
    return best


# -- validation ------------------------------------------------------------------------------


def _valid_key(key: Any) -> bool:
    return isinstance(key, str) and _KEY.fullmatch(key) is not None


def _number(value: Any) -> float | None:
    """The value as a finite double, or None if JavaScript would not read it as one."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def invalid_reason(
    key: str, version: Any, *, max_path_data: int = DEFAULT_MAX_PATH_DATA
) -> str | None:
    """Why a version (or its key) is invalid, or None when it is valid.

    `max_path_data` is the longest `d` allowed, in characters (`MAX_PATH_DATA`).
    """
    if not _valid_key(key):
        return f"key must match ^[A-Za-z0-9_-]{{1,64}}$, got {key!r:.80}"
    if not isinstance(version, dict):
        return f"a version must be an object, got {type(version).__name__}"
    fields = set(version)
    if fields != _STROKE_FIELDS and fields != _TOMBSTONE_FIELDS:
        got = ", ".join(sorted(str(field) for field in fields))
        return f"fields must be d, color, width, ts or deleted, ts; got {got:.200}"
    ts = _number(version["ts"])
    if ts is None or ts < 0:
        return f"ts must be a finite number >= 0, got {version['ts']!r:.80}"
    if fields == _TOMBSTONE_FIELDS:
        if version["deleted"] is not True:
            return f"deleted must be true, got {version['deleted']!r:.80}"
        return None
    return _stroke_invalid_reason(version, max_path_data)


def _stroke_invalid_reason(version: dict[str, Any], max_path_data: int) -> str | None:
    d = version["d"]
    if isinstance(d, str) and len(d) > max_path_data:
        return f"d must be at most {max_path_data} characters, got {len(d)}"
    if not isinstance(d, str) or not is_path_syntax(d):
        return f"d must be SVG 1.1 path data, got {d!r:.80}"
    color = version["color"]
    if not is_hex_color(color):
        return f"color must be #rrggbb or #rrggbbaa, got {color!r:.80}"
    width = _number(version["width"])
    if width is None or not 0 < width <= MAX_WIDTH:
        return f"width must be a number > 0 and <= {MAX_WIDTH}, got {version['width']!r:.80}"
    return None


def _stored_invalid_reason(key: str, version: Any, max_path_data: int) -> str | None:
    # pycrdt hands back an int only for a Yjs BigInt, which JavaScript reads as
    # a bigint, not a number: its ts would compare differently there.
    if isinstance(version, dict):
        for field, value in version.items():
            if isinstance(value, int) and not isinstance(value, bool):
                return f"{field} must be a number, got a BigInt"
    return invalid_reason(key, version, max_path_data=max_path_data)


def _versions(key: str, register: Any, max_path_data: int) -> list[dict[str, Any]]:
    if not isinstance(register, Array):
        return []
    return [v for v in register if _stored_invalid_reason(key, v, max_path_data) is None]


# -- reading and writing ---------------------------------------------------------------------


def _as_written(value: Any) -> Any:
    # Floats only: pycrdt writes a large int as a Yjs BigInt (and panics past
    # 64 bits); a float is always a plain JavaScript number.
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def write_path(
    doc: Doc[Any],
    key: str,
    value: dict[str, Any],
    *,
    ts: float,
    origin: Any = None,
    max_path_data: int = DEFAULT_MAX_PATH_DATA,
) -> None:
    """Push a version (value + ts) and delete what it supersedes, in one transaction.

    Raises ValueError, writing nothing, if the version or the key is invalid
    (a `d` longer than `max_path_data` characters included).
    """
    try:
        version = {field: _as_written(v) for field, v in {**value, "ts": ts}.items()}
    except OverflowError:
        raise ValueError("numbers must fit in a double") from None
    reason = invalid_reason(key, version, max_path_data=max_path_data)
    if reason is not None:
        raise ValueError(reason)
    with doc.transaction(origin=origin):
        paths = paths_map(doc)
        register = paths.get(key)
        if not isinstance(register, Array):
            paths[key] = Array([version])
            return
        old = list(register)
        register.append(version)
        beaten = [
            i
            for i, v in enumerate(old)
            if _stored_invalid_reason(key, v, max_path_data) is None and wins(version, v)
        ]
        _delete_indices(register, beaten)


def _delete_indices(register: Array[Any], indices: Iterable[int]) -> None:
    """Delete the given indices, one range per run of neighbours, from the end."""
    runs: list[list[int]] = []
    for i in sorted(set(indices)):
        if runs and runs[-1][1] == i:
            runs[-1][1] = i + 1
        else:
            runs.append([i, i + 1])
    for start, stop in reversed(runs):
        del register[start:stop]


def read_paths(doc: Doc[Any], *, max_path_data: int = DEFAULT_MAX_PATH_DATA) -> list[PathEntry]:
    """Every register's winner among its valid versions (tombstones included), ordered by ts
    then key. A version whose `d` is longer than `max_path_data` is invalid: never read."""
    entries: list[PathEntry] = []
    for key, register in paths_map(doc).items():
        best = winner(_versions(key, register, max_path_data))
        if best is None:
            continue
        ts = float(best["ts"])
        if "deleted" in best:
            entries.append(Tombstone(key=key, ts=ts))
        else:
            width = float(best["width"])
            entries.append(Stroke(key=key, ts=ts, d=best["d"], color=best["color"], width=width))
    entries.sort(key=lambda entry: (entry.ts, entry.key))
    return entries


def changed_keys(events: list[Any]) -> set[str]:
    """The register keys touched by a transaction, from `paths_map(doc).observe_deep` events."""
    keys: set[str] = set()
    for event in events:
        path = getattr(event, "path", None)
        if path:
            # A change inside a register: path[0] is its key in the paths map.
            if isinstance(path[0], str):
                keys.add(path[0])
        else:
            # A change of the paths map itself: keys added, replaced or deleted.
            keys.update(k for k in getattr(event, "keys", None) or () if isinstance(k, str))
    return keys


def upkeep(
    doc: Doc[Any], keys: Iterable[str], *, now_ms: float, max_path_data: int = DEFAULT_MAX_PATH_DATA
) -> bool:
    """Clean the given registers; must run inside a transaction. Returns True if it changed any.

    Removes invalid keys, values that are not arrays and invalid versions (a
    `d` longer than `max_path_data` characters included), re-dates versions
    more than FUTURE_SLACK_MS ahead of `now_ms` to that limit, and leaves each
    register exactly its winner (or removes it).
    """
    limit = float(now_ms) + FUTURE_SLACK_MS
    changed = False
    # Joins the caller's transaction (whatever its origin), or opens one.
    with doc.transaction():
        paths = paths_map(doc)
        for key in sorted(set(keys)):
            if key in paths:
                changed |= _upkeep_register(paths, key, limit, max_path_data)
    return changed


def _upkeep_register(paths: Map[Any], key: str, limit: float, max_path_data: int) -> bool:
    register = paths[key]
    if not isinstance(register, Array) or not _valid_key(key):
        del paths[key]
        return True
    items = list(register)
    candidates: list[tuple[int, dict[str, Any]]] = []
    for i, item in enumerate(items):
        if _stored_invalid_reason(key, item, max_path_data) is None:
            redated = {**item, "ts": limit} if item["ts"] > limit else item
            candidates.append((i, redated))
    best = winner(version for _, version in candidates)
    if best is None:
        del paths[key]
        return True
    # Keep one stored copy of the winner; a re-dated winner that is not stored yet is pushed.
    keep = next((i for i, v in candidates if v is items[i] and v == best), None)
    doomed = [i for i in range(len(items)) if i != keep]
    if not doomed:
        return False
    if keep is None:
        register.append(best)
    _delete_indices(register, doomed)
    return True
