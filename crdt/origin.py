"""Transaction origins: upkeep and relayed changes are never checked or echoed again."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Any

from pycrdt import Doc


class Origin(StrEnum):
    """Who made a change: the room checks client changes and relays only its own."""

    CLIENT = "client"
    UPKEEP = "upkeep"
    RELAY = "relay"  # applied from another process or caught up from storage


class OriginTag:
    """The origin of the transaction being applied, for the document's observers.

    pycrdt hands a transaction observer the update but not the origin it was opened with,
    so the room notes it here while its own transactions run (None: nobody's, e.g. a load).
    """

    def __init__(self) -> None:
        self.current: Origin | None = None

    @contextmanager
    def transaction(self, doc: Doc[Any], origin: Origin) -> Iterator[Doc[Any]]:
        """A transaction on `doc` whose changes observers see as made by `origin`."""
        self.current = origin
        try:
            with doc.transaction(origin=origin):
                yield doc
        finally:
            self.current = None
