"""Counters the core keeps for /metrics (plain ints: the core knows no metrics library)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Stats:
    messages_received: int = 0
    updates_logged: int = 0
    batches_broadcast: int = 0
    messages_sent: int = 0
    bytes_sent: int = 0
    clients_kicked_slow: int = 0
    protocol_errors: int = 0
    store_failures: int = 0
    rooms_loaded: int = 0
    rooms_unloaded: int = 0
    rooms_slept: int = 0  # documents put to sleep as their encoded state
    sync_replies_encoded: int = 0  # sync step 2s encoded (the rest came from the cache)
    updates_refused: int = 0  # writers closed: document too large (4413) or storage full (4507)
    log_append_seconds: float = 0.0  # summed over updates_logged: the log's share of latency
