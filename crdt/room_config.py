"""A room's settings and the states of its lifecycle."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from crdt.paths import DEFAULT_MAX_PATH_DATA


class RoomState(Enum):
    LOADING = "loading"
    LIVE = "live"
    CLOSING = "closing"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class RoomConfig:
    batch_interval_s: float = 0.1
    max_message_bytes: int = 4 * 1024 * 1024
    outbox_size: int = 256
    outbox_bytes: int = 32 * 1024 * 1024
    max_document_bytes: int = 64 * 1024 * 1024
    max_path_data: int = DEFAULT_MAX_PATH_DATA
    awareness_timeout_s: float = 30.0
    # The stock y-websocket client drops a connection that hears nothing for 30 s.
    heartbeat_s: float = 15.0
    presence_refresh_s: float = 5.0
    store_retry_s: float = 1.0
    # A document nobody changed for this long sleeps as its encoded state (0: never).
    sleep_after_s: float = 20.0
    # A connection from which nothing arrived for this long is closed (4408): stock clients
    # renew their awareness every 15 s, so only a gone or half-open peer stays silent.
    silence_timeout_s: float = 30.0
    # Closing: how long a connection may take to be sent what it was queued before it is
    # cut off (the close frame follows; one that does not read gets neither).
    close_drain_s: float = 2.0
