"""A room's batch window: collect its changes, then log, send and relay them as one.

Like Hocuspocus's `Document.scheduleFlush`: the first change opens the window, its end
(a tick of the process's batch clock) merges what came in, appends it to the durable log,
hands it to the room to send to every client, then publishes it to the other processes.
If the log cannot be written the changes stay pending, nothing is sent or relayed, and
the window reopens after a pause: nothing accepted is lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import anyio

from crdt import protocol
from crdt.batch_clock import BatchClock
from crdt.origin import Origin
from crdt.ports import DocumentStore, StorageFull
from crdt.relay_link import RelayLink
from crdt.stats import Stats

log = logging.getLogger("whiteboard.room")

# The awareness changes of a window: (every change, for the clients; this process's own
# clients' changes, for the relay), each an encoded awareness update or None.
Cursors = tuple[bytes | None, bytes | None]


@dataclass(frozen=True, slots=True)
class Batch:
    """What one window sends to every client of the room."""

    update: bytes | None  # one sync update message merging every change, or None
    cursors: bytes | None  # one awareness message, or None
    logged: bool  # False: the log could not be written and the changes wait for a retry


class BatchWindow:
    def __init__(
        self,
        room_id: str,
        store: DocumentStore,
        *,
        clock: BatchClock,
        stats: Stats,
        retry_s: float,
        take_cursors: Callable[[], Cursors],
        deliver: Callable[[Batch], None],
        logged: Callable[[int], None],
        relay: RelayLink | None = None,
    ) -> None:
        self._room_id = room_id
        self._store = store
        self._clock = clock
        self._phase = clock.phase()
        self._stats = stats
        self._retry_s = retry_s
        self._take_cursors = take_cursors
        self._deliver = deliver
        self._logged = logged  # told each log entry's sequence number
        self._relay = relay
        self._local: list[bytes] = []  # this process's changes: logged, sent and relayed
        self._caught_up: list[bytes] = []  # caught up from storage (already logged): only sent
        self._flushing = False
        self._lock = anyio.Lock()
        self._end = anyio.Event()  # set at the tick that ends the open window
        self._open = False
        self.storage_full = False  # while set, the room refuses changes (they cannot be logged)

    @property
    def busy(self) -> bool:
        """Whether changes are waiting to be logged or sent."""
        return bool(self._local or self._caught_up or self._flushing)

    def durable(self) -> bool:
        """Whether the document holds nothing that is not in the log yet.

        While storage is full the document is served as it is: waiting would be forever.
        """
        return not (self._local or self._flushing) or self.storage_full

    def add(self, update: bytes, origin: Origin | None) -> None:
        """Collect one transaction's update by who made it (loads and wakes are nobody's)."""
        if origin in (Origin.CLIENT, Origin.UPKEEP):
            self._local.append(update)
        elif origin is Origin.RELAY:
            self._caught_up.append(update)

    def open(self) -> None:
        if not self._open:
            self._open = True
            self._clock.schedule(self._end, self._phase)

    async def run(self) -> None:
        """End each window at its tick; after a failed write, retry after a pause."""
        while True:
            await self._end.wait()
            self._end = anyio.Event()
            self._open = False
            if not await self.flush():
                await anyio.sleep(self._retry_s)
                self.open()

    async def flush(self) -> bool:
        """Log the window's own changes, then deliver them with the cursors, then relay.

        Returns False when storage failed; the changes stay pending and nothing is lost.
        """
        # One flush at a time: a second caller (closing, clean-up) waits for the first's write.
        async with self._lock:
            return await self._flush()

    async def _flush(self) -> bool:
        local, self._local = self._local, []
        caught_up, self._caught_up = self._caught_up, []
        # Cursors need no durability, but they wait for the log write with the update so
        # that each client's sender wakes once per window for both.
        everything, own_awareness = self._take_cursors()
        cursors = protocol.awareness(everything) if everything is not None else None
        merged: bytes | None = None
        seq: int | None = None
        self._flushing = True
        try:
            if local:
                merged = protocol.merged(local)
                seq = await self._append(merged)
        except Exception as exc:
            self._stats.store_failures += 1
            self._local[:0] = local
            self._caught_up[:0] = caught_up
            self._failed(exc)
            self._deliver(Batch(None, cursors, logged=False))
            await self._publish(None, None, own_awareness)
            return False
        finally:
            self._flushing = False
        if self.storage_full and local:
            self.storage_full = False
            log.warning("storage writable again; changes accepted", extra={"room": self._room_id})
        outgoing = [u for u in (merged, *caught_up) if u is not None]
        update = protocol.sync_update(protocol.merged(outgoing)) if outgoing else None
        if update is not None:
            self._stats.batches_broadcast += 1
        self._deliver(Batch(update, cursors, logged=True))
        await self._publish(merged, seq, own_awareness)
        return True

    async def _append(self, merged: bytes) -> int:
        started = time.perf_counter()
        seq = await self._store.append(self._room_id, merged)
        self._stats.log_append_seconds += time.perf_counter() - started
        self._stats.updates_logged += 1
        self._logged(seq)
        return seq

    def _failed(self, exc: Exception) -> None:
        if not isinstance(exc, StorageFull):
            log.exception("appending to the update log failed", extra={"room": self._room_id})
            return
        # Serve what the room has, refuse changes until a retry succeeds.
        if not self.storage_full:
            log.warning(
                "storage full: changes refused until it can be written; unlogged changes kept",
                extra={"room": self._room_id, "error": str(exc)},
            )
        self.storage_full = True

    async def _publish(
        self, update: bytes | None, seq: int | None, awareness: bytes | None
    ) -> None:
        if self._relay is not None:
            await self._relay.publish(update, seq, awareness)
