"""Transaction origins: upkeep and relayed changes are never checked or echoed again."""

from __future__ import annotations

from enum import StrEnum


class Origin(StrEnum):
    """Who made a change: the room checks client changes and relays only its own."""

    CLIENT = "client"
    UPKEEP = "upkeep"
    RELAY = "relay"
