"""RoomManager: single-flight loading, periodic snapshots, idle clean-up, flush-all on exit."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import partial

import anyio
from anyio.abc import TaskGroup, TaskStatus

from crdt.awareness import Identity
from crdt.batch_clock import BatchClock
from crdt.boards import board_paths
from crdt.errors import CloseConnection, RoomNotFound
from crdt.paths import PathEntry
from crdt.ports import RoomPorts, Transport
from crdt.room import Room
from crdt.room_config import RoomConfig, RoomState
from crdt.stats import Stats

log = logging.getLogger("whiteboard.rooms")


@dataclass(frozen=True, slots=True)
class ManagerConfig:
    room: RoomConfig = RoomConfig()
    snapshot_interval_s: float = 60.0
    room_idle_s: float = 300.0
    liveness_interval_s: float = 5.0


class RoomManager:
    def __init__(self, ports: RoomPorts, *, config: ManagerConfig | None = None) -> None:
        self.config = config or ManagerConfig()
        self._ports = ports
        self._rooms: dict[str, Room] = {}
        self._joining: dict[str, int] = {}
        self._tg: TaskGroup | None = None
        self._clock = BatchClock(self.config.room.batch_interval_s)
        self._shutting_down = False
        self.stats = Stats()

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Own every room until cancelled; on the way out, flush and snapshot them all."""
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                tg.start_soon(self._clock.run)
                tg.start_soon(self._snapshot_loop)
                tg.start_soon(self._idle_loop)
                if self._ports.presence is not None:
                    tg.start_soon(self._liveness_loop)
                task_status.started()
        finally:
            self._tg = None
            with anyio.CancelScope(shield=True):
                await self.close_all()

    async def close_all(self) -> None:
        """The server is stopping: close every room at once and refuse new connections.

        Each room finishes its open batch (logged, then sent), closes its connections with
        1012 (service restart: clients reconnect, to another process where there is one)
        and writes its snapshot. Safe to call again: the second call waits for the first.
        """
        self._shutting_down = True
        async with anyio.create_task_group() as tg:
            for room in list(self._rooms.values()):
                if room.state is RoomState.LIVE:
                    tg.start_soon(self._close_for_restart, room)
                elif room.state is RoomState.CLOSING:
                    tg.start_soon(room.closed.wait)  # cleaned up meanwhile: let it finish
        # A room still loading is left for the next call (RoomManager.run's, on exit): its
        # joiners are refused once it has loaded.
        for room_id, room in list(self._rooms.items()):
            if room.state is RoomState.CLOSED:
                del self._rooms[room_id]

    async def _close_for_restart(self, room: Room) -> None:
        try:
            await room.close(code=1012, reason="server restarting")
        except Exception:  # the other rooms close all the same
            log.exception("closing a room failed", extra={"room": room.id})

    def live_rooms(self) -> list[Room]:
        return [room for room in self._rooms.values() if room.state is RoomState.LIVE]

    async def board(self, room_id: str) -> list[PathEntry] | None:
        """A room's drawing: from memory if it is live here, else from storage (None: no room)."""
        room = self.live_room(room_id)
        # Decoded in a worker thread from the encoded state: reading a large board on the
        # event loop would stall every room, and a sleeping document stays asleep.
        if room is not None:
            updates = [room.encoded_state()]
        else:
            stored = await self._ports.store.load(room_id)
            if stored is None:
                return None
            updates = stored.updates
        read = partial(board_paths, max_path_data=self.config.room.max_path_data)
        return await anyio.to_thread.run_sync(read, updates)

    async def restore(self, room_id: str, point: list[PathEntry]) -> int:
        """Push a history point's board into the room as a change, loading the room if it
        is not live here (it is cleaned up later as usual); returns the paths changed.

        Raises RoomNotFound, or CloseConnection when the room cannot be loaded now.
        """
        self._joining[room_id] = self._joining.get(room_id, 0) + 1
        try:
            room = await self._acquire(room_id)
            changed = room.restore(point)
            await room.flush()  # logged and sent before the caller hears it is done
        finally:
            self._joining[room_id] -= 1
            if not self._joining[room_id]:
                del self._joining[room_id]
        return changed

    def live_room(self, room_id: str) -> Room | None:
        room = self._rooms.get(room_id)
        return room if room is not None and room.state is RoomState.LIVE else None

    async def serve(
        self, room_id: str, transport: Transport, identity: Identity
    ) -> CloseConnection | None:
        """Hand one authenticated connection to its room (loading the room if needed)."""
        if self._shutting_down:
            raise CloseConnection("server restarting", 1012)
        self._joining[room_id] = self._joining.get(room_id, 0) + 1
        try:
            room = await self._acquire(room_id)
        finally:
            self._joining[room_id] -= 1
            if not self._joining[room_id]:
                del self._joining[room_id]
        return await room.serve(transport, identity)

    async def _acquire(self, room_id: str) -> Room:
        while True:
            room = self._rooms.get(room_id)
            if room is None:
                return await self._load(room_id)
            if room.state is RoomState.LOADING:
                await self._loaded(room)
                continue
            if self._shutting_down:
                raise CloseConnection("server restarting", 1012)
            if room.state is RoomState.LIVE:
                return room
            # Closing: wait until it is saved and gone, then load the saved copy.
            await room.closed.wait()
            if self._rooms.get(room_id) is room:
                del self._rooms[room_id]

    async def _load(self, room_id: str) -> Room:
        """Load a room nobody holds; those who join meanwhile wait for it (`_loaded`)."""
        if self._tg is None or self._shutting_down:
            raise CloseConnection("server restarting", 1012)
        room = Room(
            room_id, self._ports, config=self.config.room, stats=self.stats, clock=self._clock,
        )
        self._rooms[room_id] = room
        try:
            await self._tg.start(room.run)
        except RoomNotFound:
            self._rooms.pop(room_id, None)
            raise
        except Exception as exc:
            self._rooms.pop(room_id, None)
            log.exception("loading a room failed", extra={"room": room_id})
            raise CloseConnection("room could not be loaded", 1011) from exc
        self.stats.rooms_loaded += 1
        if self._shutting_down:  # the room is closed by close_all's next call
            raise CloseConnection("server restarting", 1012)
        return room

    @staticmethod
    async def _loaded(room: Room) -> None:
        """Wait for a room another join is loading; its failure is this join's too."""
        await room.loaded.wait()
        if isinstance(room.load_error, RoomNotFound):
            raise RoomNotFound("no such room")
        if room.load_error is not None:
            raise CloseConnection("room could not be loaded", 1011)

    async def _snapshot_loop(self) -> None:
        while True:
            await anyio.sleep(self.config.snapshot_interval_s)
            for room in list(self._rooms.values()):
                if room.state is RoomState.LIVE:
                    started = anyio.current_time()
                    await room.snapshot()
                    # Rest as long as it took: a snapshot's database work holds the
                    # interpreter for milliseconds, and back to back over a hundred rooms
                    # it delayed live traffic (S2 with frequent snapshots: p99 118 ->
                    # 156 ms).
                    await anyio.sleep(anyio.current_time() - started)
            # A snapshot decodes the whole document to refresh the path rows: give that
            # memory back to the system rather than keep it for the next round.
            if self._ports.release_memory is not None:
                self._ports.release_memory()

    async def _idle_loop(self) -> None:
        period = min(5.0, self.config.room_idle_s / 5)
        while True:
            await anyio.sleep(period)
            for room in list(self._rooms.values()):
                if self._is_idle(room):
                    try:
                        await self._unload(room)
                    except Exception:
                        log.exception("cleaning up an idle room failed", extra={"room": room.id})

    def _is_idle(self, room: Room) -> bool:
        return (
            room.state is RoomState.LIVE
            and not room.clients
            and room.id not in self._joining
            and time.monotonic() - room.idle_since >= self.config.room_idle_s
        )

    async def _liveness_loop(self) -> None:
        presence = self._ports.presence
        assert presence is not None
        while True:
            try:
                await presence.rooms_live([room.id for room in self.live_rooms()])
            except Exception:
                log.warning("room liveness heartbeat failed", exc_info=True)
            await anyio.sleep(self.config.liveness_interval_s)

    async def _unload(self, room: Room) -> None:
        # Save while the room is still live, then look again: someone who joined during
        # these awaits keeps the room. If storage fails, the room stays for the next round:
        # freeing it would drop changes that are not in the log yet.
        if not await room.flush() or not await room.snapshot() or not self._is_idle(room):
            return
        # No await between the last check and CLOSING: a join from now on waits for the
        # final snapshot and loads the saved copy, never a half-closed or empty one.
        await room.close(reason="room idle")
        if self._rooms.get(room.id) is room:
            del self._rooms[room.id]
        if self._ports.presence is not None:
            try:
                await self._ports.presence.room_freed(room.id)
            except Exception:
                log.warning("freeing the room's live state failed", extra={"room": room.id},
                            exc_info=True)
        self.stats.rooms_unloaded += 1
        log.info("room cleaned up", extra={"room": room.id})
