"""Room: one Yjs document, the clients connected to it and their awareness.

What the room does with them lives in parts it composes: the batch window that logs,
sends and relays its changes (crdt/batch.py), the answers to joins (crdt/sync_replies.py),
the document that sleeps when nobody changes it (crdt/document.py), its snapshots
(crdt/snapshots.py), the link to other processes (crdt/relay_link.py) and the presence
reports (crdt/presence.py). Its lifecycle, serving a connection and checking what a
client sends are its own: they touch the document, the clients and the awareness together,
which is why this module is past 300 lines (about 430).
"""

from __future__ import annotations

import logging
import time
from contextlib import AsyncExitStack
from typing import Any

import anyio
from anyio.abc import TaskStatus
from pycrdt import Doc, Subscription, TransactionEvent, YSyncMessageType

from crdt import paths, protocol, roots, wire
from crdt.awareness import Identity, RoomAwareness
from crdt.batch import Batch, BatchWindow
from crdt.batch_clock import BatchClock
from crdt.client import Client
from crdt.document import RoomDocument, may_sleep
from crdt.document_size import DocumentSize
from crdt.errors import (
    CloseConnection,
    DocumentTooLarge,
    ProtocolError,
    RoomNotFound,
    SlowClient,
    StorageUnavailable,
)
from crdt.origin import Origin, OriginTag
from crdt.paths import PathEntry
from crdt.ports import RoomPorts, StoredDocument, Transport
from crdt.presence import PresenceReporter, presence_entries, report_activity
from crdt.relay_link import RelayLink
from crdt.restore import restore_board
from crdt.room_config import RoomConfig, RoomState
from crdt.snapshots import Snapshots
from crdt.stats import Stats
from crdt.sync_replies import SyncReplies

log = logging.getLogger("whiteboard.room")


class Room:
    """One Yjs document, the clients connected to it and their awareness, kept in sync."""

    def __init__(
        self,
        room_id: str,
        ports: RoomPorts,
        *,
        config: RoomConfig | None = None,
        stats: Stats | None = None,
        clock: BatchClock | None = None,
    ) -> None:
        self.id = room_id
        self.config = config or RoomConfig()
        self.stats = stats or Stats()
        self.state = RoomState.LOADING
        self.awareness = RoomAwareness()
        self.clients: set[Client] = set()
        self.loaded = anyio.Event()
        self.closed = anyio.Event()
        self.load_error: Exception | None = None
        self.idle_since = time.monotonic()
        self._ports = ports
        self._document = RoomDocument(self._subscribe, released=ports.release_memory)
        self._changed_at = time.monotonic()
        self._origin = OriginTag()
        self._touched: set[str] = set()  # path keys clients changed since the last upkeep
        self._foreign_roots: set[str] = set()  # roots other than `paths` the document names
        self._snapshots = Snapshots(room_id, ports.store, self.stats)
        self._size = DocumentSize(self.config.max_document_bytes)
        # The process's shared clock (RoomManager's); a room made on its own runs its own.
        shared_clock = clock or BatchClock(self.config.batch_interval_s)
        self._own_clock = shared_clock if clock is None else None
        self._relay = RelayLink(room_id, ports.relay, ports.store) if ports.relay else None
        self._window = BatchWindow(
            room_id, ports.store, clock=shared_clock,
            stats=self.stats, retry_s=self.config.store_retry_s,
            take_cursors=self.awareness.take_pending, deliver=self._deliver,
            logged=lambda seq: self._snapshots.holds((seq,)), relay=self._relay,
        )
        self._replies = SyncReplies(
            self._document, self.stats, durable=self._window.durable,
            open_window=self._window.open, measured=self._size.measured,
        )
        self._presence = (
            PresenceReporter(
                room_id, ports.presence, ports.activity,
                lambda: presence_entries(self.clients, self.awareness),
                min_interval_s=max(self.config.batch_interval_s, 0.5),
                refresh_s=self.config.presence_refresh_s,
            )
            if ports.presence is not None
            else None
        )
        self._scope: anyio.CancelScope | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Load the document, then run the batch window and the clocks until closed."""
        async with AsyncExitStack() as stack:
            try:
                relayed = (
                    await stack.enter_async_context(self._relay.subscribe())
                    if self._relay is not None
                    else None
                )
                await self._load()
            except Exception as exc:
                self.load_error = exc
                self.state = RoomState.CLOSED
                self.loaded.set()
                self.closed.set()
                raise
            self.state = RoomState.LIVE
            self.loaded.set()
            with anyio.CancelScope() as scope:
                self._scope = scope
                task_status.started()
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._window.run)
                    if self._own_clock is not None:
                        tg.start_soon(self._own_clock.run)
                    tg.start_soon(self._clock_loop)
                    if self._presence is not None:
                        tg.start_soon(self._presence.run)
                    if self._relay is not None and relayed is not None:
                        tg.start_soon(self._relay.run, relayed, self)

    async def _load(self) -> None:
        stored = await self._ports.store.load(self.id)
        if stored is None:
            raise RoomNotFound("no such room")
        self._document.start(protocol.merged(stored.updates) if stored.updates else None)
        self._size.grew(sum(len(u) for u in stored.updates))
        self._snapshots.holds(stored.seqs)
        self._changed_at = time.monotonic()
        log.info("room loaded", extra={"room": self.id, "updates": len(stored.updates)})

    def encoded_state(self) -> bytes:
        """The whole document as one update (without waking it if it sleeps)."""
        return self._document.encoded()

    @property
    def asleep(self) -> bool:
        """Whether the document is held only encoded (see crdt/document.py)."""
        return self._document.asleep

    def _subscribe(self, doc: Doc[Any]) -> tuple[Subscription, ...]:
        self._foreign_roots = roots.foreign_roots(doc)
        return (
            doc.observe(self._on_transaction),
            paths.paths_map(doc).observe_deep(self._on_paths_changed),
        )

    async def close(self, *, code: int = 1001, reason: str = "room closing") -> None:
        """Finish the open batch, send it, close every connection, write a final snapshot.

        Connections stop being read at once, so everything the room accepted is in the
        batch; it is logged, then sent to every connection with whatever else was queued
        for it, and only then is each closed with `code`. A connection that does not take
        its queue within `close_drain_s` is cut off.
        """
        self.state = RoomState.CLOSING
        closing = CloseConnection(reason, code)
        clients = list(self.clients)
        for client in clients:
            client.stop_receiving(closing)
        try:
            with anyio.CancelScope(shield=True):
                await self.flush()
            for client in clients:
                client.finish()
            with anyio.move_on_after(self.config.close_drain_s):
                for client in clients:
                    await client.done.wait()
        finally:
            for client in clients:
                client.kick(closing)
            with anyio.CancelScope(shield=True):
                await self.snapshot()
            # Encoded and unsubscribed: nothing keeps the closed room alive.
            self._document.sleep()
            if self._scope is not None:
                self._scope.cancel()
            self.state = RoomState.CLOSED
            self.closed.set()

    # -- serving one connection ------------------------------------------------------------

    async def serve(self, transport: Transport, identity: Identity) -> CloseConnection | None:
        """Serve one connection until it closes; returns why it was closed by us, if it was."""
        client = Client(
            transport, identity,
            outbox_size=self.config.outbox_size, outbox_bytes=self.config.outbox_bytes,
        )
        self.clients.add(client)
        greeting = [protocol.sync_step1(self._document.state_vector())]
        everyone = self.awareness.full_update()
        if everyone is not None:
            greeting.append(protocol.awareness(everyone))
        client.enqueue_all(greeting)
        self._presence_changed()
        await self._report_activity(client)
        try:
            await client.serve(
                lambda frame: self._handle(client, protocol.decode_message(frame)),
                max_message_bytes=self.config.max_message_bytes, stats=self.stats,
            )
        finally:
            self.clients.discard(client)
            if isinstance(client.closing, SlowClient):
                self.stats.clients_kicked_slow += 1
            client.close_outbox()
            self._replies.forget(client)
            self.awareness.remove_owner(client, now=time.monotonic())
            self._window.open()
            self._presence_changed()
            if not self.clients:
                self.idle_since = time.monotonic()
            with anyio.CancelScope(shield=True):
                await self._report_activity(client)
        return client.closing

    def _handle(self, client: Client, message: protocol.IncomingMessage) -> None:
        if isinstance(message, protocol.SyncMessage):
            if message.sync_type == YSyncMessageType.SYNC_STEP1:
                self._replies.answer(client, message.payload)
            else:
                self._apply_client_update(message.payload)
        elif isinstance(message, protocol.AwarenessMessage):
            self.awareness.apply(
                message.update, owner=client, identity=client.identity, now=time.monotonic()
            )
            self._window.open()
        else:
            everyone = self.awareness.full_update()
            if everyone is not None:
                client.enqueue(protocol.awareness(everyone))

    # -- changes to the document -----------------------------------------------------------

    def _apply_client_update(self, update: bytes) -> None:
        if update == b"\x00\x00":
            return
        if self._window.storage_full:
            self.stats.updates_refused += 1
            raise StorageUnavailable(
                "the server cannot store changes now (its storage is full); retry later"
            )
        try:
            self._size.check(len(update), measure=lambda: len(self._document.encoded()))
        except DocumentTooLarge:
            self.stats.updates_refused += 1
            raise
        named = wire.update_roots(update) - {roots.PATHS_ROOT}
        if len(self._foreign_roots | named) > roots.MAX_FOREIGN_ROOTS:
            raise ProtocolError(
                f"the document's only root is `paths`; this update names {len(named)} others"
            )
        failed: Exception | None = None
        with self._origin.transaction(self._document.awake(), Origin.CLIENT) as doc:
            try:
                doc.apply_update(update)
            except (ValueError, RuntimeError) as exc:
                # RuntimeError: well-formed, but items point at parents that cannot hold
                # them. What yrs applied before failing stays, and is kept like the rest.
                failed = exc
            if named or self._foreign_roots:
                # In the same transaction: what is removed is never logged or relayed.
                self._foreign_roots |= named
                roots.clear(doc, self._foreign_roots)
        self._size.grew(len(update))
        self._upkeep()
        self._window.open()
        if failed is not None:
            raise ProtocolError(f"update could not be decoded: {failed}")

    def _upkeep(self) -> None:
        """Settle the registers clients touched (crdt/paths.py); never looked at again."""
        if not self._touched:
            return
        keys, self._touched = self._touched, set()
        with self._origin.transaction(self._document.awake(), Origin.UPKEEP) as doc:
            paths.upkeep(
                doc, keys, now_ms=time.time() * 1000, max_path_data=self.config.max_path_data
            )

    def _on_transaction(self, event: TransactionEvent) -> None:
        self._replies.document_changed()
        self._changed_at = time.monotonic()
        self._window.add(event.update, self._origin.current)

    def _on_paths_changed(self, events: list[Any]) -> None:
        if self._origin.current is Origin.CLIENT:
            self._touched |= paths.changed_keys(events)

    # -- what other processes send (crdt/relay_link.py) -------------------------------------

    def apply_relayed(self, update: bytes, seq: int | None) -> None:
        """Apply another process's merged batch and pass the same bytes straight on.

        It was batched and logged over there already: waiting for a window here too
        would only add up to a window of latency across processes.
        """
        try:
            with self._origin.transaction(self._document.awake(), Origin.RELAY) as doc:
                doc.apply_update(update)
        except ValueError:
            log.warning("undecodable relayed update", extra={"room": self.id})
            return
        if seq is not None:
            self._snapshots.holds((seq,))
        self.stats.batches_broadcast += 1
        self._broadcast([protocol.sync_update(update)])

    def apply_relayed_awareness(self, update: bytes) -> None:
        self.awareness.apply_remote(update, now=time.monotonic())
        self._window.open()

    def catch_up(self, stored: StoredDocument) -> None:
        if stored.updates:
            # Collected as caught up: sent with the next window, never logged again.
            with self._origin.transaction(self._document.awake(), Origin.RELAY) as doc:
                doc.apply_update(protocol.merged(stored.updates))
        self._snapshots.holds(stored.seqs)
        self._window.open()

    # -- the batch window (crdt/batch.py) ---------------------------------------------------

    async def flush(self) -> bool:
        """Log the window's changes, send them with the cursors; False if storage failed."""
        return await self._window.flush()

    def _deliver(self, batch: Batch) -> None:
        window = [message for message in (batch.update, batch.cursors) if message is not None]
        if window:
            self._broadcast(window)
        if batch.cursors is not None:
            self._presence_changed()
        if batch.logged or self._window.storage_full:
            self._replies.answer_waiting()  # while storage is full: serve what it has

    def _broadcast(self, messages: list[bytes]) -> None:
        # One encoding, the same bytes to every client, and the window's messages in one
        # write per client (one system call where the transport can).
        for client in list(self.clients):
            client.enqueue_all(messages)
        self.stats.messages_sent += len(self.clients) * len(messages)
        self.stats.bytes_sent += sum(map(len, messages)) * len(self.clients)

    # -- clocks ----------------------------------------------------------------------------

    async def _clock_loop(self) -> None:
        config = self.config
        period = min(
            1.0, config.awareness_timeout_s / 10, config.heartbeat_s / 2,
            config.silence_timeout_s / 10,
        )
        while True:
            await anyio.sleep(period)
            # Shared by joins that come together; a large board should not hold them idle.
            self._replies.document_changed()
            now = time.monotonic()
            self._maybe_sleep(now)
            if self.awareness.remove_outdated(now=now, timeout=config.awareness_timeout_s):
                self._window.open()
            reading = self.state is RoomState.LIVE  # closing: connections are not read
            for client in list(self.clients):
                client.check_alive(
                    now, reading=reading, silence_timeout_s=config.silence_timeout_s,
                    heartbeat_s=config.heartbeat_s,
                )

    def _maybe_sleep(self, now: float) -> None:
        if not may_sleep(
            quiet_for_s=now - self._changed_at,
            sleep_after_s=self.config.sleep_after_s,
            asleep=self._document.asleep,
            live=self.state is RoomState.LIVE,
            busy=self._window.busy or self._replies.waiting or bool(self._touched),
        ):
            return
        size = self._document.sleep()
        self._size.measured(size)
        self.stats.rooms_slept += 1
        log.info("room document asleep", extra={"room": self.id, "bytes": size})

    async def snapshot(self) -> bool:
        """Fold the log entries the document holds into its snapshot; False if storage failed."""
        return await self._snapshots.take(self._encode_measured)

    def _encode_measured(self) -> bytes:
        state = self._document.encoded()
        self._size.measured(len(state))
        return state

    # -- presence --------------------------------------------------------------------------

    def active_user_ids(self) -> set[str]:
        return {client.identity.user_id for client in self.clients}

    def _presence_changed(self) -> None:
        if self._presence is not None:
            self._presence.changed()

    async def _report_activity(self, client: Client) -> None:
        user_id = client.identity.user_id
        await report_activity(self._ports, self.id, user_id, self.active_user_ids)

    # -- history ---------------------------------------------------------------------------

    def restore(self, point: list[PathEntry]) -> int:
        """Bring back a history point's board as a change (crdt/restore.py, §7).

        Logged, sent within the window and relayed like upkeep's changes, which it resembles:
        made by the server, valid by construction. Returns how many paths it pushed.
        """
        with self._origin.transaction(self._document.awake(), Origin.UPKEEP) as doc:
            changed = restore_board(
                doc, point, now_ms=time.time() * 1000, max_path_data=self.config.max_path_data
            )
        self._window.open()
        return changed
