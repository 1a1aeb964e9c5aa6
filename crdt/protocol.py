"""y-websocket framing on pycrdt's helpers: decode one incoming frame, typed errors.

Frame: varUint message type, then for sync (0) a varUint sync type and a
varUint8Array payload; awareness (1) carries one varUint8Array; query awareness (3)
carries nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from pycrdt import (
    Decoder,
    YSyncMessageType,
    create_awareness_message,
    create_update_message,
    merge_updates,
    write_var_uint,
)

from crdt.errors import ProtocolError


class MessageType(IntEnum):
    SYNC = 0
    AWARENESS = 1
    AUTH = 2
    QUERY_AWARENESS = 3


@dataclass(frozen=True, slots=True)
class SyncMessage:
    sync_type: YSyncMessageType
    payload: bytes


@dataclass(frozen=True, slots=True)
class AwarenessMessage:
    update: bytes


@dataclass(frozen=True, slots=True)
class QueryAwareness:
    pass


IncomingMessage = SyncMessage | AwarenessMessage | QueryAwareness


def _read_uint(decoder: Decoder, what: str) -> int:
    try:
        value = decoder.read_var_uint()
    except (IndexError, RuntimeError):
        raise ProtocolError(f"truncated message: expected {what}") from None
    if decoder.length < 0:
        raise ProtocolError(f"truncated message: expected {what}")
    return value


def _read_payload(decoder: Decoder, what: str) -> bytes:
    length = _read_uint(decoder, f"{what} length")
    if length > decoder.length:
        raise ProtocolError(f"truncated message: {what} says {length} bytes, {decoder.length} left")
    payload = decoder.stream[decoder.i0 : decoder.i0 + length]
    decoder.i0 += length
    decoder.length -= length
    return bytes(payload)


def decode_message(frame: bytes) -> IncomingMessage:
    """Decode one binary frame from a client, or raise ProtocolError saying what was wrong."""
    if not frame:
        raise ProtocolError("empty message")
    decoder = Decoder(frame)
    kind = _read_uint(decoder, "message type")
    message: IncomingMessage
    if kind == MessageType.SYNC:
        sync_type = _read_uint(decoder, "sync message type")
        if sync_type not in (0, 1, 2):
            raise ProtocolError(f"unknown sync message type {sync_type}, expected 0, 1 or 2")
        payload = _read_payload(decoder, "sync payload")
        message = SyncMessage(YSyncMessageType(sync_type), payload)
    elif kind == MessageType.AWARENESS:
        message = AwarenessMessage(_read_payload(decoder, "awareness update"))
    elif kind == MessageType.QUERY_AWARENESS:
        message = QueryAwareness()
    else:
        raise ProtocolError(f"unknown message type {kind}, expected 0 (sync), 1 or 3 (awareness)")
    if decoder.length != 0:
        raise ProtocolError(f"{decoder.length} unexpected bytes after the message")
    return message


def merged(updates: list[bytes]) -> bytes:
    """One update holding all of `updates` (a lone one as it is: merging decodes it)."""
    return merge_updates(*updates) if len(updates) > 1 else updates[0]


def sync_step1(state_vector: bytes) -> bytes:
    return bytes([MessageType.SYNC, YSyncMessageType.SYNC_STEP1]) + write_var_uint(
        len(state_vector)
    ) + state_vector


def sync_step2(update: bytes) -> bytes:
    return bytes([MessageType.SYNC, YSyncMessageType.SYNC_STEP2]) + write_var_uint(
        len(update)
    ) + update


def sync_update(update: bytes) -> bytes:
    return create_update_message(update)


def awareness(update: bytes) -> bytes:
    return create_awareness_message(update)
