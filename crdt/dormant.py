"""A room's Yjs document, which sleeps as its encoded state while nobody changes it.

In memory a document takes far more room than encoded: 20,000 strokes are 2.3 MB as an
update and ~30 MB as a live pycrdt Doc. A board that people only look at (or left open
in a tab) needs no live Doc: joins are answered from the encoded state, cursors never
touch the document, and the first change wakes it (a 20,000-stroke board in ~0.1 s).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable

from pycrdt import Doc, Subscription, get_update

Subscribe = Callable[[Doc], tuple[Subscription, ...]]
EMPTY_STATE_VECTOR = b"\x00"  # a peer that holds nothing


class RoomDocument:
    def __init__(self, subscribe: Subscribe) -> None:
        self._subscribe = subscribe
        self._doc: Doc | None = Doc()
        self._subscriptions: tuple[Subscription, ...] = ()
        self._asleep: bytes | None = None  # the encoded state while asleep
        self._asleep_vector = b""  # its state vector (decoding it from the update costs ms)

    def start(self, update: bytes | None) -> None:
        """Hold what storage holds, observed from now on."""
        self._doc = self._observed(update)

    def _observed(self, update: bytes | None) -> Doc:
        doc: Doc = Doc()
        # Applied before subscribing: loading or waking is not a change anyone made.
        if update is not None:
            doc.apply_update(update)
        self._subscriptions = self._subscribe(doc)  # dropped explicitly: see _unsubscribe
        return doc

    @property
    def asleep(self) -> bool:
        return self._asleep is not None

    @property
    def doc(self) -> Doc:
        """The live document, woken from its encoded state if it was asleep."""
        if self._doc is None:
            assert self._asleep is not None
            self._doc, self._asleep = self._observed(self._asleep), None
        return self._doc

    def sleep(self) -> int:
        """Keep only the encoded state; returns its size."""
        if self._doc is None:
            assert self._asleep is not None
            return len(self._asleep)
        self._asleep = self._doc.get_update()
        self._asleep_vector = self._doc.get_state()
        self._unsubscribe()
        self._doc = None
        release_free_memory()
        return len(self._asleep)

    def _unsubscribe(self) -> None:
        # Explicitly: a pycrdt subscription's callback is held on the Rust side, out of
        # the garbage collector's sight, and with it the document and the room it calls.
        for subscription in self._subscriptions:
            subscription.drop()
        self._subscriptions = ()

    def state_vector(self) -> bytes:
        return self._asleep_vector if self._asleep is not None else self.doc.get_state()

    def update_since(self, state_vector: bytes) -> bytes:
        """What a peer with `state_vector` lacks; the whole document for an empty one.

        Raises ValueError for a state vector that does not decode.
        """
        if self._asleep is None:
            return self.doc.get_update(state_vector)
        if state_vector == EMPTY_STATE_VECTOR:
            return self._asleep
        return get_update(self._asleep, state_vector)

    def encoded(self) -> bytes:
        return self._asleep if self._asleep is not None else self.doc.get_update()


def _libc_malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS)
        return None


_MALLOC_TRIM = _libc_malloc_trim()


def release_free_memory() -> None:
    """Hand memory freed by a large document back to the system.

    glibc keeps freed memory in its arenas; without a trim the process would not get
    smaller when a large document goes to sleep or a room closes.
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
