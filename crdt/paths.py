"""The `paths` map: one last-write-wins register per stroke (PROTOCOL.md §3).

STUB: the signatures below are the contract the rest of the code relies on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pycrdt import Array, Doc, Map

PATHS = "paths"
FUTURE_SLACK_MS = 60_000


@dataclass(frozen=True, slots=True)
class PathEntry:
    """A register's winning version, as stored in path rows and drawn in SVG."""

    key: str
    ts: float
    deleted: bool
    d: str | None = None
    color: str | None = None
    width: float | None = None


def paths_map(doc: Doc) -> Map:
    return doc.get(PATHS, type=Map)


def canonical(version: dict[str, Any]) -> str:
    """JSON text with sorted keys, no spaces, numbers as JavaScript's JSON.stringify writes them."""
    raise NotImplementedError


def wins(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """True if version `a` beats version `b`: greater ts, ties by greater canonical text."""
    raise NotImplementedError


def winner(versions: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    raise NotImplementedError


def invalid_reason(key: str, version: Any) -> str | None:
    """Why a version (or its key) is invalid, or None when it is valid."""
    raise NotImplementedError


def write_path(doc: Doc, key: str, value: dict[str, Any], *, ts: float, origin: Any = None) -> None:
    """Push a version (value + ts) and delete what it supersedes, in one transaction."""
    raise NotImplementedError


def read_paths(doc: Doc) -> list[PathEntry]:
    """Every register's winner (tombstones included), ordered by ts then key."""
    raise NotImplementedError


def changed_keys(events: list[Any]) -> set[str]:
    """The register keys touched by a transaction, from `paths_map(doc).observe_deep` events."""
    raise NotImplementedError


def upkeep(doc: Doc, keys: Iterable[str], *, now_ms: float) -> bool:
    """Clean the given registers; must run inside a transaction. Returns True if it changed any."""
    raise NotImplementedError
