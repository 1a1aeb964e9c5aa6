"""The real-time state port: what the server needs from Redis or from this process's memory.

Both back-ends (`state_local.py`, `state_redis.py`) implement `RealtimeState`; the server
builds one with `persistence.realtime.open_realtime_state` and never names either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from anyio.abc import TaskStatus

from crdt.ports import PresenceStore, Relay


class StateUnavailable(Exception):
    """The real-time state cannot be reached now (its store is down or too slow).

    A caller may try again later; nothing of the failed call is known to have happened.
    """


@dataclass(frozen=True, slots=True)
class RoomClaim:
    """The answer to "may this IP create one more room?"."""

    allowed: bool
    retry_after_s: int = 0


class RealtimeState(Relay, PresenceStore, Protocol):
    """Presence, room liveness, per-IP room counts and the relay between processes.

    Calls that need the back-end's store raise StateUnavailable while it cannot be reached.
    """

    # What readiness checks and logs call this back-end ("redis", "in-process").
    name: str

    async def healthy(self) -> bool:
        """Whether the back-end answers now (within a couple of seconds)."""
        ...

    async def run(self, *, task_status: TaskStatus[None] = ...) -> None:
        """Whatever the back-end runs in the background (the relay's reader), until cancelled."""
        ...

    async def aclose(self) -> None:
        """Let go of connections; the last call made on the object."""
        ...

    async def claim_room(self, *, ip: str, room_id: str, limit: int) -> RoomClaim:
        """Count a new room against `ip`, unless `ip` already has `limit` live rooms."""
        ...

    async def release_claim(self, room_id: str) -> None:
        """Undo `claim_room` for a room that was not created after all."""
        ...
