"""In-process real-time state: the embedded default for one process (no Redis)."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from anyio.abc import TaskStatus

from crdt.ports import PresenceEntry, RelayMessage
from persistence.state import RoomClaim


class LocalState:
    """The RealtimeState of one process: presence, liveness and per-IP counts in memory.

    With one process there are no other processes to relay to, so the relay is silent.
    """

    def __init__(self, *, live_window_s: float) -> None:
        self._live_window_s = live_window_s
        self._users: dict[str, list[PresenceEntry]] = {}
        self._creator_of: dict[str, str] = {}
        self._rooms_of_ip: dict[str, dict[str, float]] = {}
        self._lock = anyio.Lock()

    # -- health ----------------------------------------------------------------------------

    name = "in-process"

    async def healthy(self) -> bool:
        return True

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        task_status.started()

    async def aclose(self) -> None:
        return None

    # -- per-IP room counts ----------------------------------------------------------------

    async def claim_room(self, *, ip: str, room_id: str, limit: int) -> RoomClaim:
        async with self._lock:
            now = time.time()
            rooms = self._rooms_of_ip.setdefault(ip, {})
            for stale in [r for r, seen in rooms.items() if now - seen >= self._live_window_s]:
                del rooms[stale]
            if len(rooms) >= limit:
                oldest = min(rooms.values())
                return RoomClaim(False, max(1, math.ceil(oldest + self._live_window_s - now)))
            rooms[room_id] = now
            self._creator_of[room_id] = ip
            return RoomClaim(True)

    async def release_claim(self, room_id: str) -> None:
        ip = self._creator_of.pop(room_id, None)
        if ip is not None:
            self._rooms_of_ip.get(ip, {}).pop(room_id, None)

    # -- PresenceStore ---------------------------------------------------------------------

    async def set_users(self, room_id: str, users: list[PresenceEntry]) -> list[PresenceEntry]:
        self._users[room_id] = list(users)
        return list(users)

    async def users(self, room_id: str) -> list[PresenceEntry]:
        return list(self._users.get(room_id, []))

    async def rooms_live(self, room_ids: list[str]) -> None:
        now = time.time()
        for room_id in room_ids:
            ip = self._creator_of.get(room_id)
            if ip is not None:
                self._rooms_of_ip.setdefault(ip, {})[room_id] = now

    async def room_freed(self, room_id: str) -> None:
        self._users.pop(room_id, None)
        await self.release_claim(room_id)

    # -- Relay -----------------------------------------------------------------------------

    @asynccontextmanager
    async def subscribe(self, room_id: str) -> AsyncIterator[AsyncIterator[RelayMessage]]:
        yield _nothing()

    async def publish(self, room_id: str, message: RelayMessage) -> None:
        return None


async def _nothing() -> AsyncIterator[RelayMessage]:
    await anyio.sleep_forever()
    return
    yield  # makes this an async generator that never yields
