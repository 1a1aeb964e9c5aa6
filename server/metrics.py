"""Prometheus exposition of the core's counters, on a registry per app (none at import time)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

if TYPE_CHECKING:
    from server.deps import Services

COUNTERS = {
    "messages_received": "Websocket messages received from clients",
    "updates_logged": "Merged updates appended to the durable log",
    "batches_broadcast": "Merged updates broadcast to a room",
    "messages_sent": "Websocket messages queued to clients",
    "bytes_sent": "Bytes queued to clients",
    "clients_kicked_slow": "Clients closed because they did not read",
    "protocol_errors": "Connections closed for a malformed message",
    "store_failures": "Failed log appends or snapshots (retried)",
    "rooms_loaded": "Rooms loaded into memory",
    "rooms_unloaded": "Idle rooms whose live state was freed",
    "rooms_slept": "Times a quiet room's document was put to sleep as its encoded state",
    "sync_replies_encoded": "Sync step 2 replies encoded (the others were shared or cached)",
    "updates_refused": "Writers closed for a document past its size limit or a full storage",
    "log_append_seconds": "Seconds spent waiting for log appends (divide by updates_logged)",
}


class _CoreCollector:
    def __init__(self, services: Services) -> None:
        self._services = services

    def collect(self) -> Iterator[Metric]:
        manager = self._services.rooms
        rooms = manager.live_rooms()
        yield GaugeMetricFamily("whiteboard_rooms_live", "Rooms in memory", value=len(rooms))
        yield GaugeMetricFamily(
            "whiteboard_rooms_asleep",
            "Rooms in memory whose document sleeps as its encoded state",
            value=sum(1 for room in rooms if room.asleep),
        )
        yield GaugeMetricFamily(
            "whiteboard_clients_connected",
            "Connected websocket clients",
            value=sum(len(room.clients) for room in rooms),
        )
        for name, help_text in COUNTERS.items():
            yield CounterMetricFamily(
                f"whiteboard_{name}", help_text, value=getattr(manager.stats, name)
            )


def build_registry(services: Services) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_CoreCollector(services))
    return registry


def render_metrics(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
