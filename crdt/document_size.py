"""The bound on a room's encoded document size (MAX_DOCUMENT_BYTES), kept cheaply."""

from __future__ import annotations

import time
from collections.abc import Callable

from crdt.errors import DocumentTooLarge


class DocumentSize:
    """What the encoded document weighs: exact after an encoding, an upper bound after that.

    Every accepted update adds its own size (merged and superseded versions take less), so
    the bound only grows between measurements. Only when it says no is the document
    measured, at most once a second: a client near the limit cannot make the room encode
    the document for every message it sends.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.bytes = 0
        self._exact = True
        self._measured_at = 0.0

    def measured(self, size: int) -> None:
        """The document was just encoded to `size` bytes."""
        self.bytes, self._exact = size, True

    def grew(self, update_size: int) -> None:
        self.bytes += update_size
        self._exact = False

    def check(self, incoming: int, measure: Callable[[], int]) -> None:
        """Raise DocumentTooLarge if an update of `incoming` bytes would pass the limit."""
        if self.bytes + incoming <= self.limit:
            return
        now = time.monotonic()
        if not self._exact and now - self._measured_at >= 1.0:
            self._measured_at = now
            self.measured(measure())
        if self.bytes + incoming > self.limit:
            raise DocumentTooLarge(
                f"an update of {incoming} bytes would take the document past its limit of "
                f"{self.limit} bytes (it holds about {self.bytes})"
            )
