"""The document's one root is `paths`: content under any other root type is removed.

A client can name any root in an update (a `Y.Text` called `junk`, a map of its own). The
room clears such roots inside the very transaction that applied the update: Yjs drops the
content of items deleted in the transaction that made them, so the update that is logged,
relayed and snapshotted carries only their ids and lengths, never the content. Names stay
in the document (Yjs never deletes a root, and keeps a removed map entry's key), so one
document may name only a few other roots (MAX_FOREIGN_ROOTS), and crdt/wire.py refuses
names and keys longer than a path id.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pycrdt import Array, Doc, Map

PATHS_ROOT = "paths"
MAX_FOREIGN_ROOTS = 8


def foreign_roots(doc: Doc[Any]) -> set[str]:
    """The names of the document's roots other than `paths`."""
    return set(doc.keys()) - {PATHS_ROOT}


def clear(doc: Doc[Any], names: Iterable[str]) -> int:
    """Delete everything under the named roots (call inside a transaction); returns how many
    roots held something."""
    cleared = 0
    for name in names:
        # A root's type is not in the update: read it both ways, as entries and as a sequence.
        entries = doc.get(name, type=Map)
        sequence = doc.get(name, type=Array)
        held = len(entries) + len(sequence)
        if not held:
            continue
        cleared += 1
        for key in list(entries.keys()):
            del entries[key]
        if len(sequence):
            del sequence[0 : len(sequence)]
    return cleared
