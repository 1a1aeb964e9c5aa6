"""A room's answers to sync step 1: bounded encodings, shared by joins that come together."""

from __future__ import annotations

from collections.abc import Callable

from crdt import protocol, wire
from crdt.client import Client
from crdt.document import EMPTY_STATE_VECTOR, RoomDocument
from crdt.errors import ProtocolError
from crdt.stats import Stats

# Sync replies kept per document version, by state vector (fresh joiners share one).
CACHED_REPLIES = 8


class SyncReplies:
    """Answer each sync step 1 now if that is cheap and safe, else at the window's end.

    Whatever a connection sends, it has at most one reply waiting (the newest state
    vector's), and a room encodes at most two replies per window beyond those it has cached
    for this version of the document (one now, one at the window's end for all that wait):
    sync step 1s cannot make it encode the document again and again. A reply never shows a
    change before it is durable: while one is waiting to be logged, joins wait too.
    """

    def __init__(
        self,
        document: RoomDocument,
        stats: Stats,
        *,
        durable: Callable[[], bool],
        open_window: Callable[[], None],
        measured: Callable[[int], None],
    ) -> None:
        self._document = document
        self._stats = stats
        self._durable = durable  # whether everything the document holds is in the log
        self._open_window = open_window
        self._measured = measured  # told the whole document's encoded size
        self._waiting: dict[Client, bytes] = {}
        self._cache: dict[bytes, bytes] = {}  # state vector -> sync step 2, this version
        self._encoded_this_window = False

    @property
    def waiting(self) -> bool:
        return bool(self._waiting)

    def document_changed(self) -> None:
        self._cache.clear()

    def forget(self, client: Client) -> None:
        self._waiting.pop(client, None)

    def answer(self, client: Client, state_vector: bytes) -> None:
        wire.check_state_vector(state_vector)
        durable = self._durable()
        reply = self._cache.get(state_vector) if durable else None
        if reply is None and durable and not self._encoded_this_window:
            self._encoded_this_window = True
            reply = self._encode(state_vector)
        if reply is not None:
            self._waiting.pop(client, None)
            client.send_sync_reply(reply)
        else:
            self._waiting[client] = state_vector
            self._open_window()

    def answer_waiting(self) -> None:
        """At the end of a window: one encoding answers every state vector left waiting.

        A single state vector gets what it lacks; several get the whole document (one
        encoding, shared) unless a reply for theirs is cached.
        """
        waiting, self._waiting = self._waiting, {}
        self._encoded_this_window = False
        uncached = {sv for sv in waiting.values() if sv not in self._cache}
        if len(uncached) == 1:
            self._encode(uncached.pop())
        elif uncached:
            everything = self._encode(EMPTY_STATE_VECTOR)
            for state_vector in uncached:
                self._cache[state_vector] = everything
        for client, state_vector in waiting.items():
            client.send_sync_reply(self._cache[state_vector])

    def _encode(self, state_vector: bytes) -> bytes:
        try:
            update = self._document.update_since(state_vector)
        except ValueError as exc:
            raise ProtocolError(f"sync step 1 carries no valid state vector: {exc}") from None
        reply = protocol.sync_step2(update)
        self._stats.sync_replies_encoded += 1
        if len(self._cache) >= CACHED_REPLIES:
            self._cache.clear()
        self._cache[state_vector] = reply
        if state_vector == EMPTY_STATE_VECTOR:
            self._measured(len(update))
        return reply
