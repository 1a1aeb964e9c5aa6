"""A room's Yjs document, which sleeps as its encoded state while nobody changes it.

In memory a document takes far more room than encoded: 20,000 strokes are 2.3 MB as an
update and ~30 MB as a live pycrdt Doc. A board that people only look at (or left open
in a tab) needs no live Doc: joins are answered from the encoded state, cursors never
touch the document, and the first change wakes it (a 20,000-stroke board in ~0.1 s).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pycrdt import Doc, Subscription, get_update

Subscribe = Callable[[Doc[Any]], tuple[Subscription, ...]]
EMPTY_STATE_VECTOR = b"\x00"  # a peer that holds nothing


class RoomDocument:
    def __init__(self, subscribe: Subscribe, *, released: Callable[[], None] | None = None) -> None:
        self._subscribe = subscribe
        self._released = released  # told when a large document was let go (memory to give back)
        self._doc: Doc[Any] | None = Doc()
        self._subscriptions: tuple[Subscription, ...] = ()
        self._asleep: bytes | None = None  # the encoded state while asleep
        self._asleep_vector = b""  # its state vector (decoding it from the update costs ms)

    def start(self, update: bytes | None) -> None:
        """Hold what storage holds, observed from now on."""
        self._doc = self._observed(update)

    def _observed(self, update: bytes | None) -> Doc[Any]:
        doc: Doc[Any] = Doc()
        # Applied before subscribing: loading or waking is not a change anyone made.
        if update is not None:
            doc.apply_update(update)
        self._subscriptions = self._subscribe(doc)  # dropped explicitly: see _unsubscribe
        return doc

    @property
    def asleep(self) -> bool:
        return self._asleep is not None

    def awake(self) -> Doc[Any]:
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
        if self._released is not None:
            self._released()
        return len(self._asleep)

    def _unsubscribe(self) -> None:
        # Explicitly: a pycrdt subscription's callback is held on the Rust side, out of
        # the garbage collector's sight, and with it the document and the room it calls.
        for subscription in self._subscriptions:
            subscription.drop()
        self._subscriptions = ()

    def state_vector(self) -> bytes:
        return self._asleep_vector if self._asleep is not None else self.awake().get_state()

    def update_since(self, state_vector: bytes) -> bytes:
        """What a peer with `state_vector` lacks; the whole document for an empty one.

        Raises ValueError for a state vector that does not decode.
        """
        if self._asleep is None:
            return self.awake().get_update(state_vector)
        if state_vector == EMPTY_STATE_VECTOR:
            return self._asleep
        return get_update(self._asleep, state_vector)

    def encoded(self) -> bytes:
        return self._asleep if self._asleep is not None else self.awake().get_update()


def may_sleep(
    *, quiet_for_s: float, sleep_after_s: float, asleep: bool, live: bool, busy: bool
) -> bool:
    """Whether a room's document should sleep now.

    It sleeps once nobody changed it for `sleep_after_s` (0: never), while the room is
    live (a loading or closing room is left alone) and nothing about it is in flight:
    `busy` is any change not yet logged and sent, or any join still waiting for a reply.
    """
    return sleep_after_s > 0 and live and not asleep and not busy and quiet_for_s >= sleep_after_s
