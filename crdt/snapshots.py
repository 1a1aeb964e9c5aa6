"""A room's snapshots: which log entries its document holds, folded in now and then."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from crdt.ports import DocumentStore, StorageFull
from crdt.stats import Stats

log = logging.getLogger("whiteboard.room")


class Snapshots:
    def __init__(self, room_id: str, store: DocumentStore, stats: Stats) -> None:
        self._room_id = room_id
        self._store = store
        self._stats = stats
        self._covered: list[int] = []  # log entries the document holds since the last snapshot

    def holds(self, seqs: Iterable[int]) -> None:
        """The document now holds these log entries (logged here, relayed, or loaded)."""
        self._covered.extend(seqs)

    async def take(self, encode: Callable[[], bytes]) -> bool:
        """Fold the entries the document holds into its snapshot; False if storage failed.

        Several processes may snapshot one room: each drops only the entries its own
        document is known to contain (see DocumentStore.snapshot).
        """
        if not self._covered:
            return True
        covered, self._covered = self._covered, []
        try:
            await self._store.snapshot(self._room_id, state=encode(), covered_seqs=covered)
        except Exception as exc:
            self._covered[:0] = covered
            self._stats.store_failures += 1
            if isinstance(exc, StorageFull):
                log.warning("snapshot refused: storage full; will retry",
                            extra={"room": self._room_id})
            else:
                log.exception("snapshot failed; will retry", extra={"room": self._room_id})
            return False
        log.info("room snapshotted", extra={"room": self._room_id, "log_entries": len(covered)})
        return True
