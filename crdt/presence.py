"""Presence: who is connected to a room, with their latest cursor, reported to the store."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

import anyio

from crdt.awareness import COLOR_RE, RoomAwareness, color_for
from crdt.client import Client
from crdt.ports import PresenceEntry, PresenceStore, RoomActivity, RoomPorts

log = logging.getLogger("whiteboard.presence")


def presence_entries(clients: Iterable[Client], awareness: RoomAwareness) -> list[PresenceEntry]:
    """One entry per connection, with the newest awareness state it owns."""
    entries = []
    now_wall, now_mono = time.time(), time.monotonic()
    newest = awareness.newest_by_owner()
    for client in clients:
        state, changed = newest.get(client, (None, None))
        user = (state or {}).get("user") or {}
        color = user.get("color")
        cursor = (state or {}).get("cursor")
        entries.append(
            PresenceEntry(
                user_id=client.identity.user_id,
                name=client.identity.name,
                color=color
                if isinstance(color, str) and COLOR_RE.match(color)
                else color_for(client.identity.user_id),
                cursor=(float(cursor["x"]), float(cursor["y"])) if cursor else None,
                last_active_at=now_wall - (now_mono - (changed or client.connected_at)),
            )
        )
    return entries


class PresenceReporter:
    """Writes a room's presence when it changes and as a heartbeat.

    At most twice a second: presence is read by people (who is here, where their cursor
    is), not by the drawing, and each write costs the room a wake-up and a store call.
    """

    def __init__(
        self,
        room_id: str,
        store: PresenceStore,
        activity: RoomActivity | None,
        entries: Callable[[], list[PresenceEntry]],
        *,
        min_interval_s: float,
        refresh_s: float,
    ) -> None:
        self._room_id = room_id
        self._store = store
        self._activity = activity
        self._entries = entries
        self._min_interval_s = min_interval_s
        self._refresh_s = refresh_s
        self._changed = anyio.Event()
        self._reported_count = -1

    def changed(self) -> None:
        self._changed.set()

    async def run(self) -> None:
        while True:
            with anyio.move_on_after(self._refresh_s):
                await self._changed.wait()
            self._changed = anyio.Event()
            try:
                await self._report()
            except Exception:
                log.warning("presence update failed", extra={"room": self._room_id},
                            exc_info=True)
            await anyio.sleep(self._min_interval_s)

    async def _report(self) -> None:
        everyone = await self._store.set_users(self._room_id, self._entries())
        count = len({user.user_id for user in everyone})
        if count != self._reported_count and self._activity is not None:
            await self._activity.active_users_changed(room_id=self._room_id, count=count)
        self._reported_count = count


async def report_activity(
    ports: RoomPorts, room_id: str, user_id: str, active_user_ids: Callable[[], set[str]]
) -> None:
    """A user joined or left the room: record the session, and the room's count of users
    when no presence store does (the reporter counts every process's users)."""
    if ports.activity is None:
        return
    try:
        await ports.activity.user_seen(user_id=user_id)
        if ports.presence is None:
            await ports.activity.active_users_changed(
                room_id=room_id, count=len(active_user_ids())
            )
    except Exception:
        log.exception("recording activity failed", extra={"room": room_id})
