"""Whole boards: a new room's first state from imported strokes, and reading a stored board."""

from __future__ import annotations

import secrets
from typing import Any

from pycrdt import Doc

from crdt import paths, protocol
from crdt.paths import DEFAULT_MAX_PATH_DATA


def new_path_id() -> str:
    """A fresh register key: 96 random bits in 16 URL-safe characters."""
    return secrets.token_urlsafe(12)


def board_state(
    strokes: list[dict[str, Any]],
    *,
    now_ms: float,
    max_path_data: int = DEFAULT_MAX_PATH_DATA,
) -> bytes:
    """One update holding a register per stroke, each with one version stamped `now_ms`."""
    doc: Doc[Any] = Doc()
    with doc.transaction(origin="import"):
        for stroke in strokes:
            value = {k: v for k, v in stroke.items() if k != "ts"}
            paths.write_path(doc, new_path_id(), value, ts=now_ms, max_path_data=max_path_data)
    return doc.get_update()


def board_paths(
    updates: list[bytes], *, max_path_data: int = DEFAULT_MAX_PATH_DATA
) -> list[paths.PathEntry]:
    """The winners of a stored board (snapshot + log), ordered by ts."""
    doc: Doc[Any] = Doc()
    if updates:
        doc.apply_update(protocol.merged(updates))
    return paths.read_paths(doc, max_path_data=max_path_data)
