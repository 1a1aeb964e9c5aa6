"""Awareness (cursors and presence): decode, sanitise, keep, coalesce, encode.

Kept here rather than in pycrdt's `Awareness`, which owns a local state and a timer of
its own: the room needs per-connection ownership of client ids, the name from the
token, and one coalesced message per batch window. Encoding reuses pycrdt's lib0 codec.
A little over 300 lines: the bounds on what one connection may announce (sizes, ids,
clocks, numbers) sit next to the decoding they guard.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from pycrdt import Decoder, Encoder

from crdt.errors import ProtocolError
from crdt.patterns import HEX_COLOR_RE, is_hex_color

# A cursor colour as the room keeps it (crdt/presence.py checks with it too).
COLOR_RE = HEX_COLOR_RE
PALETTE = (
    "#e03131", "#2f9e44", "#1971c2", "#f08c00", "#9c36b5",
    "#0c8599", "#e8590c", "#6741d9", "#c2255c", "#5c940d",
)


REMOTE = object()  # the owner of states relayed from other processes

# A state is a name, a colour and a cursor (~100 bytes); frontends may add a little more.
MAX_STATE_BYTES = 4096
MAX_INT_DIGITS = 308  # 10**308 - 1 is still a finite double
# y-protocols reads client ids and clocks as JavaScript numbers: exact up to 2**53 - 1.
MAX_SAFE_INTEGER = 2**53 - 1
# What the room relays may be longer: the name it writes from the token replaces the client's.
MAX_RELAYED_STATE_BYTES = MAX_STATE_BYTES + 1024
# Client ids one connection may introduce. A stock provider has one (its Y.Doc's clientID,
# which Yjs changes only on a detected conflict); the states it re-sends for other clients
# are echoes of ids the room already knows and do not count.
MAX_OWN_CLIENT_IDS = 4


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a connection is, from its token."""

    user_id: str
    name: str


@dataclass(slots=True)
class AwarenessEntry:
    client_id: int
    clock: int
    state: dict[str, Any] | None
    text: str = ""  # the state's JSON as it came


class _Entry:
    """One state as it goes out, encoded only when a window or a join sends it (then once):
    a client that moves its cursor faster than the window costs no encoding per message."""

    __slots__ = ("_bytes", "client_id", "clock", "state", "text")

    def __init__(
        self, client_id: int, clock: int, state: dict[str, Any] | None, text: str | None
    ) -> None:
        self.client_id = client_id
        self.clock = clock
        self.state = state
        self.text = text
        self._bytes: bytes | None = None

    def encoded(self) -> bytes:
        if self._bytes is None:
            self._bytes = _encode_entry(self.client_id, self.clock, self.state, self.text)
        return self._bytes


@dataclass(slots=True)
class _Held:
    clock: int
    state: dict[str, Any] | None
    owner: object
    identity: Identity
    last_updated: float
    entry: _Entry


def color_for(user_id: str) -> str:
    digest = hashlib.sha256(user_id.encode()).digest()
    return PALETTE[digest[0] % len(PALETTE)]


def decode_update(
    update: bytes, *, max_entries: int | None = None, max_state_bytes: int = MAX_RELAYED_STATE_BYTES
) -> list[AwarenessEntry]:
    """The entries of an awareness update, every declared count and length checked first.

    `max_entries` bounds how many entries one message may carry (the room knows how many
    client ids could legitimately be in it); an entry takes at least 3 bytes, so a count
    beyond the bytes present is refused before anything is decoded.
    """
    decoder = Decoder(update)
    try:
        count = decoder.read_var_uint()
        if decoder.length < 0 or count * 3 > decoder.length:
            raise ProtocolError(
                f"awareness update declares {count} entries in {max(decoder.length, 0)} bytes"
            )
        if max_entries is not None and count > max_entries:
            raise ProtocolError(
                f"awareness update carries {count} entries, at most {max_entries} expected"
            )
        entries = []
        for _ in range(count):
            client_id = decoder.read_var_uint()
            clock = decoder.read_var_uint()
            if client_id > MAX_SAFE_INTEGER or clock > MAX_SAFE_INTEGER:
                raise ProtocolError("awareness client id or clock past 2**53 - 1")
            text = _read_state_text(decoder, max_state_bytes)
            if decoder.length < 0:
                raise IndexError
            entries.append(AwarenessEntry(client_id, clock, _parse_state(text), text))
    except (IndexError, RuntimeError):
        raise ProtocolError("truncated awareness update") from None
    if decoder.length != 0:
        raise ProtocolError(f"{decoder.length} unexpected bytes after the awareness update")
    return entries


def _read_state_text(decoder: Decoder, max_bytes: int) -> str:
    length = decoder.read_var_uint()
    if length > max_bytes:
        raise ProtocolError(f"awareness state of {length} bytes, at most {max_bytes}")
    if length > decoder.length:
        raise ProtocolError(f"awareness state says {length} bytes, {decoder.length} left")
    raw = decoder.stream[decoder.i0 : decoder.i0 + length]
    decoder.i0 += length
    decoder.length -= length
    try:
        return bytes(raw).decode()
    except UnicodeDecodeError:
        raise ProtocolError("awareness state is not UTF-8") from None


def _parse_state(text: str) -> Any:
    # y-protocols writes a removed state as the JSON text `null`; an empty text is no JSON.
    try:
        return json.loads(
            text, parse_constant=_reject_constant, parse_float=_finite_float, parse_int=_finite_int
        )
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"awareness state is not JSON: {str(exc)[:80]}") from None


def _finite_int(text: str) -> int:
    # JavaScript reads every number as a double: an integer of more digits is Infinity.
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(text)} digits is not a finite number")
    return int(text)


def _finite_float(text: str) -> float:
    # `1e400` is valid JSON syntax that Python reads as infinity, which no JSON can carry.
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is not a finite number")
    return value


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity; JavaScript's JSON.parse would choke on them.
    raise ValueError(f"{name} is not JSON")


def _encode_entry(
    client_id: int, clock: int, state: dict[str, Any] | None, text: str | None = None
) -> bytes:
    """One entry; `text`, when given, is JSON the caller knows to parse to `state`."""
    encoder = Encoder()
    encoder.write_var_uint(client_id)
    encoder.write_var_uint(clock)
    if text is None:
        text = json.dumps(state, separators=(",", ":"), allow_nan=False)
    encoder.write_var_string(text)
    return encoder.to_bytes()


def encode_entries(encoded_entries: list[bytes]) -> bytes:
    encoder = Encoder()
    encoder.write_var_uint(len(encoded_entries))
    return encoder.to_bytes() + b"".join(encoded_entries)


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def sanitise(state: Any, identity: Identity) -> dict[str, Any] | None:
    """The state as the room relays it: name from the token, a valid colour and cursor."""
    if state is None:
        return None
    if not isinstance(state, dict):
        kind = type(state).__name__
        raise ProtocolError(f"awareness state must be an object or null, got {kind}")
    clean = dict(state)
    user = state.get("user")
    color = user.get("color") if isinstance(user, dict) else None
    if not is_hex_color(color):
        color = color_for(identity.user_id)
    clean["user"] = {"name": identity.name, "color": color}
    cursor = state.get("cursor")
    if cursor is not None and not (
        isinstance(cursor, dict) and _finite(cursor.get("x")) and _finite(cursor.get("y"))
    ):
        cursor = None
    clean["cursor"] = cursor
    return clean


class RoomAwareness:
    """Every awareness state of one room, who owns it, and what changed in the window.

    States from this process's connections are sanitised and owned by their connection;
    states relayed from other processes were sanitised there and are owned by `REMOTE`.
    """

    def __init__(self) -> None:
        self._held: dict[int, _Held] = {}
        self._pending: dict[int, _Entry] = {}
        self._pending_local: dict[int, _Entry] = {}
        # Ids whose state went away: when, and whose it was. Stock providers re-send every
        # state they hear, so an echo of one may arrive after its owner left.
        self._departed: dict[int, tuple[float, str]] = {}
        self._introduced: dict[object, set[int]] = {}  # the ids each connection brought

    def entry_limit(self) -> int:
        """How many entries one client's message may carry: every id the room knows, plus
        the few a connection may introduce."""
        return len(self._held) + len(self._departed) + MAX_OWN_CLIENT_IDS

    def apply(self, update: bytes, *, owner: object, identity: Identity, now: float) -> None:
        """Apply a client's update.

        Entries for ids another connection owns are echoes and are dropped; a connection
        that introduces more than MAX_OWN_CLIENT_IDS distinct ids is refused.
        """
        for entry in decode_update(
            update, max_entries=self.entry_limit(), max_state_bytes=MAX_STATE_BYTES
        ):
            held = self._held.get(entry.client_id)
            if held is None:
                if entry.state is None or self._echo_of_departed(entry.client_id, identity):
                    continue  # nothing to remove, or someone else's state echoed late
                # New here, or back (a provider that reconnects re-sends its own state).
                self._introduce(owner, entry.client_id)
            elif held.owner is not owner:
                continue
            state = sanitise(entry.state, identity)
            if held is not None and entry.clock < held.clock:
                continue
            # Mostly nothing needed cleaning: relay the JSON as it came, not re-encoded.
            text = entry.text if state is not None and state == entry.state else None
            self._set(entry.client_id, entry.clock, state, owner, identity, now, local=True,
                      text=text)

    def _echo_of_departed(self, client_id: int, identity: Identity) -> bool:
        departed = self._departed.get(client_id)
        # States relayed from other processes carry no user id: whose they were is unknown.
        return departed is not None and departed[1] not in ("", identity.user_id)

    def _introduce(self, owner: object, client_id: int) -> None:
        own = self._introduced.setdefault(owner, set())
        if client_id not in own and len(own) >= MAX_OWN_CLIENT_IDS:
            raise ProtocolError(
                f"a connection may introduce at most {MAX_OWN_CLIENT_IDS} awareness client ids"
            )
        own.add(client_id)

    def apply_remote(self, update: bytes, *, now: float) -> None:
        """Apply states another process relayed (already sanitised there)."""
        for entry in decode_update(update):
            held = self._held.get(entry.client_id)
            if held is not None and (held.owner is not REMOTE or entry.clock < held.clock):
                continue
            state = entry.state if isinstance(entry.state, dict) else None
            user = (state or {}).get("user") or {}
            identity = Identity(user_id="", name=str(user.get("name", "")))
            self._set(entry.client_id, entry.clock, state, REMOTE, identity, now, local=False,
                      text=entry.text if state is not None else None)

    def _set(self, client_id: int, clock: int, state: dict[str, Any] | None, owner: object,
             identity: Identity, now: float, *, local: bool, text: str | None = None) -> None:
        entry = _Entry(client_id, clock, state, text)
        if state is None:
            gone = self._held.pop(client_id, None)
            if gone is not None:
                self._departed[client_id] = (now, gone.identity.user_id)
        else:
            self._held[client_id] = _Held(clock, state, owner, identity, now, entry)
        self._pending[client_id] = entry
        if local:
            self._pending_local[client_id] = entry

    def remove_owner(self, owner: object, *, now: float) -> None:
        """Announce the states of a closed connection as gone."""
        self._introduced.pop(owner, None)
        for client_id in [cid for cid, h in self._held.items() if h.owner is owner]:
            self._remove(client_id, now=now)

    def remove_outdated(self, *, now: float, timeout: float) -> int:
        stale = [cid for cid, h in self._held.items() if now - h.last_updated >= timeout]
        for client_id in stale:
            self._remove(client_id, now=now)
        for client_id in [cid for cid, (t, _) in self._departed.items() if now - t >= timeout]:
            del self._departed[client_id]
        return len(stale)

    def _remove(self, client_id: int, *, now: float) -> None:
        held = self._held.pop(client_id)
        self._departed[client_id] = (now, held.identity.user_id)
        entry = _Entry(client_id, held.clock + 1, None, None)
        self._pending[client_id] = entry
        if held.owner is not REMOTE:
            self._pending_local[client_id] = entry

    def take_pending(self) -> tuple[bytes | None, bytes | None]:
        """The window's coalesced update for local clients, and its part to relay onwards."""
        # Each state is encoded here, once, for both: the newest of the window only.
        everything = (
            encode_entries([e.encoded() for e in self._pending.values()])
            if self._pending else None
        )
        local = (
            encode_entries([e.encoded() for e in self._pending_local.values()])
            if self._pending_local else None
        )
        self._pending, self._pending_local = {}, {}
        return everything, local

    def full_update(self) -> bytes | None:
        if not self._held:
            return None
        return encode_entries([h.entry.encoded() for h in self._held.values()])

    def newest_by_owner(self) -> dict[object, tuple[dict[str, Any] | None, float]]:
        """Each owner's newest state and when it changed, in one pass over the states."""
        newest: dict[object, _Held] = {}
        for held in self._held.values():
            best = newest.get(held.owner)
            if best is None or held.last_updated > best.last_updated:
                newest[held.owner] = held
        return {owner: (held.state, held.last_updated) for owner, held in newest.items()}
