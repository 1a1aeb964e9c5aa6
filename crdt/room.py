"""Room: one document, its awareness, its clients and its batch window."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from enum import Enum

import anyio
from anyio.abc import TaskStatus
from pycrdt import Doc, Subscription, YSyncMessageType

from crdt import paths, protocol, roots, wire
from crdt.awareness import Identity, RoomAwareness
from crdt.batch_clock import BatchClock
from crdt.client import Client
from crdt.dormant import EMPTY_STATE_VECTOR, RoomDocument
from crdt.errors import (
    CloseConnection,
    DocumentTooLarge,
    MessageTooLarge,
    ProtocolError,
    RoomNotFound,
    SilentClient,
    SlowClient,
    StorageUnavailable,
)
from crdt.origin import Origin
from crdt.pathdata import DEFAULT_MAX_PATH_DATA
from crdt.paths import PathEntry
from crdt.ports import (
    ConnectionClosed,
    RelayMessage,
    RoomPorts,
    StorageFull,
    Transport,
)
from crdt.presence import PresenceReporter, presence_entries
from crdt.relay_link import RelayLink
from crdt.restore import restore_board
from crdt.stats import Stats

log = logging.getLogger("whiteboard.room")

EMPTY_AWARENESS = protocol.awareness(b"\x00")
# Frames one connection handles before letting the others run: a client that sends a
# burst must not hold the event loop for all of it.
FRAMES_PER_TURN = 16
# Sync replies kept per document version, by state vector (fresh joiners share one).
CACHED_REPLIES = 8


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


class Room(RelayLink):
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
        self._document = RoomDocument(self._subscribe)
        self._changed_at = time.monotonic()
        self.awareness = RoomAwareness()
        self.clients: set[Client] = set()
        self.loaded = anyio.Event()
        self.closed = anyio.Event()
        self.load_error: Exception | None = None
        self.idle_since = time.monotonic()
        self._ports = ports
        self._store = ports.store
        self._pending: list[bytes] = []  # this process's changes: logged, sent, relayed
        self._pending_remote: list[bytes] = []  # relayed changes: only sent
        # Sync step 1s answered at the end of the window (newest per connection).
        self._awaiting_reply: dict[Client, bytes] = {}
        self._replies: dict[bytes, bytes] = {}  # state vector -> sync step 2, this version
        self._encoded_this_window = False  # a window pays for at most one reply encoding
        self._size = 0  # the encoded document's size, or more (see _check_size)
        self._size_exact = True
        self._size_measured_at = 0.0
        self._storage_full = False
        self._foreign_roots: set[str] = set()  # roots other than `paths` the document names
        self._flushing = False
        self._flush_lock = anyio.Lock()
        self._window = anyio.Event()  # set at the tick that ends the open window
        self._window_open = False
        # The process's shared clock (RoomManager's); a room made on its own runs its own.
        self._owns_clock = clock is None
        self._clock = clock or BatchClock(self.config.batch_interval_s)
        self._phase = self._clock.phase()
        self._touched: set[str] = set()
        self._capturing: Origin | None = None
        self._covered: list[int] = []  # log entries the document holds since the last snapshot
        self._presence = (
            PresenceReporter(
                room_id,
                ports.presence,
                ports.activity,
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
            relayed: AsyncIterator[RelayMessage] | None = None
            try:
                if self._ports.relay is not None:
                    # Subscribe before loading: what others publish meanwhile is not missed.
                    relayed = await stack.enter_async_context(
                        self._ports.relay.subscribe(self.id)
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
                    tg.start_soon(self._batch_loop)
                    if self._owns_clock:
                        tg.start_soon(self._clock.run)
                    tg.start_soon(self._clock_loop)
                    if self._presence is not None:
                        tg.start_soon(self._presence.run)
                    if relayed is not None:
                        tg.start_soon(self._relay_loop, relayed)

    async def _load(self) -> None:
        stored = await self._store.load(self.id)
        if stored is None:
            raise RoomNotFound("no such room")
        updates = stored.updates
        self._document.start(protocol.merged(updates) if updates else None)
        self._size = sum(len(u) for u in updates)
        self._size_exact = False
        self._covered.extend(stored.seqs)
        self._changed_at = time.monotonic()
        log.info("room loaded", extra={"room": self.id, "updates": len(stored.updates)})

    @property
    def doc(self) -> Doc:
        """The room's document (woken if it was asleep)."""
        return self._document.doc

    def encoded_state(self) -> bytes:
        """The whole document as one update (without waking it if it sleeps)."""
        return self._document.encoded()

    @property
    def asleep(self) -> bool:
        """Whether the document is held only encoded (see crdt/dormant.py)."""
        return self._document.asleep

    def _subscribe(self, doc: Doc) -> tuple[Subscription, ...]:
        self._foreign_roots = roots.foreign_roots(doc)
        return (
            doc.observe(self._on_transaction),
            paths.paths_map(doc).observe_deep(self._on_paths_changed),
        )

    def _apply_stored(self, updates: list[bytes], origin: Origin) -> None:
        if not updates:
            return
        self._capturing = origin
        try:
            with self.doc.transaction(origin=origin):
                self.doc.apply_update(protocol.merged(updates))
        finally:
            self._capturing = None

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
            transport,
            identity,
            outbox_size=self.config.outbox_size,
            outbox_bytes=self.config.outbox_bytes,
        )
        self.clients.add(client)
        client.enqueue(protocol.sync_step1(self._document.state_vector()))
        everyone = self.awareness.full_update()
        if everyone is not None:
            client.enqueue(protocol.awareness(everyone))
        self._presence_changed()
        await self._report_activity(client)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._send_loop, client)
                with anyio.CancelScope() as receiving:
                    client.bind(tg.cancel_scope, receiving)
                    await self._receive_loop(client)
                if not receiving.cancel_called:
                    tg.cancel_scope.cancel()
                # Else the room is closing: the sender ends once it has sent the last batch.
        finally:
            self.clients.discard(client)
            if isinstance(client.closing, SlowClient):
                self.stats.clients_kicked_slow += 1
            client.close_outbox()
            self._awaiting_reply.pop(client, None)
            self.awareness.remove_owner(client, now=time.monotonic())
            self._open_window()
            self._presence_changed()
            if not self.clients:
                self.idle_since = time.monotonic()
            with anyio.CancelScope(shield=True):
                await self._report_activity(client)
        return client.closing

    async def _receive_loop(self, client: Client) -> None:
        handled = 0
        now = time.monotonic
        try:
            while True:
                frame = await client.transport.receive()
                client.last_received = now()
                self.stats.messages_received += 1
                if len(frame) > self.config.max_message_bytes:
                    raise MessageTooLarge(
                        f"message of {len(frame)} bytes, limit is {self.config.max_message_bytes}"
                    )
                self._handle(client, protocol.decode_message(frame))
                handled += 1
                if handled % FRAMES_PER_TURN == 0:
                    # Frames already buffered are received without a pause: yield now and then.
                    await anyio.lowlevel.checkpoint()
        except ConnectionClosed:
            return
        except CloseConnection as exc:
            if isinstance(exc, ProtocolError):
                self.stats.protocol_errors += 1
            client.kick(exc)

    async def _send_loop(self, client: Client) -> None:
        try:
            await client.run_sender()
        except (ConnectionClosed, OSError, RuntimeError) as exc:
            client.kick(CloseConnection(f"send failed: {exc}", 1011))

    def _handle(self, client: Client, message: protocol.IncomingMessage) -> None:
        if isinstance(message, protocol.SyncMessage):
            if message.sync_type == YSyncMessageType.SYNC_STEP1:
                self._answer_step1(client, message.payload)
            else:
                self._apply_client_update(message.payload)
        elif isinstance(message, protocol.AwarenessMessage):
            self.awareness.apply(
                message.update, owner=client, identity=client.identity, now=time.monotonic()
            )
            self._open_window()
        else:
            everyone = self.awareness.full_update()
            if everyone is not None:
                client.enqueue(protocol.awareness(everyone))

    def _answer_step1(self, client: Client, state_vector: bytes) -> None:
        """Answer now if that costs no second encoding in this window, else at its end.

        Whatever a connection sends, it has at most one reply waiting (the newest state
        vector's), and a room encodes at most two replies per window beyond those it has
        cached for this version of the document (one now, one at the window's end for all
        that wait): sync step 1s cannot make it encode the document again and again.
        """
        wire.check_state_vector(state_vector)
        durable = not (self._pending or self._flushing) or self._storage_full
        reply = self._replies.get(state_vector) if durable else None
        if reply is None and durable and not self._encoded_this_window:
            self._encoded_this_window = True
            reply = self._encode_reply(state_vector)
        if reply is not None:
            self._awaiting_reply.pop(client, None)
            client.send_sync_reply(reply)
        else:
            # Changes not yet in the log (a reply never shows them before they are durable),
            # or this window's encoding is spent.
            self._awaiting_reply[client] = state_vector
            self._open_window()

    def _answer_awaiting(self) -> None:
        """At the end of a window: one encoding answers every state vector left waiting.

        A single state vector gets what it lacks; several get the whole document (one
        encoding, shared) unless a reply for theirs is cached.
        """
        awaiting, self._awaiting_reply = self._awaiting_reply, {}
        self._encoded_this_window = False
        uncached = {sv for sv in awaiting.values() if sv not in self._replies}
        if len(uncached) == 1:
            self._encode_reply(uncached.pop())
        elif uncached:
            everything = self._encode_reply(EMPTY_STATE_VECTOR)
            for state_vector in uncached:
                self._replies[state_vector] = everything
        for client, state_vector in awaiting.items():
            client.send_sync_reply(self._replies[state_vector])

    def _encode_reply(self, state_vector: bytes) -> bytes:
        try:
            update = self._document.update_since(state_vector)
        except ValueError as exc:
            raise ProtocolError(f"sync step 1 carries no valid state vector: {exc}") from None
        reply = protocol.sync_step2(update)
        self.stats.sync_replies_encoded += 1
        if len(self._replies) >= CACHED_REPLIES:
            self._replies.clear()
        self._replies[state_vector] = reply
        if state_vector == EMPTY_STATE_VECTOR:
            self._note_size(len(update))
        return reply

    def _apply_client_update(self, update: bytes) -> None:
        if update == b"\x00\x00":
            return
        if self._storage_full:
            self.stats.updates_refused += 1
            raise StorageUnavailable(
                "the server cannot store changes now (its storage is full); retry later"
            )
        self._check_size(len(update))
        named = wire.update_roots(update) - {roots.PATHS_ROOT}
        if len(self._foreign_roots | named) > roots.MAX_FOREIGN_ROOTS:
            raise ProtocolError(
                f"the document's only root is `paths`; this update names {len(named)} others"
            )
        self._capturing = Origin.CLIENT
        failed: Exception | None = None
        try:
            with self.doc.transaction(origin=Origin.CLIENT):
                try:
                    self.doc.apply_update(update)
                except (ValueError, RuntimeError) as exc:
                    # RuntimeError: well-formed, but items point at parents that cannot hold
                    # them. What yrs applied before failing stays, and is kept like the rest.
                    failed = exc
                if named or self._foreign_roots:
                    # In the same transaction: what is removed is never logged or relayed.
                    self._foreign_roots |= named
                    roots.clear(self.doc, self._foreign_roots)
        finally:
            self._capturing = None
        self._size += len(update)
        self._size_exact = False
        self._upkeep()
        self._open_window()
        if failed is not None:
            raise ProtocolError(f"update could not be decoded: {failed}")

    def _check_size(self, incoming: int) -> None:
        """Refuse an update that would take the document past MAX_DOCUMENT_BYTES.

        `_size` is exact after an encoding and grows by each update's size after that (an
        upper bound: merged and superseded versions take less). Only when that bound says
        no is the document measured, at most once a second, so that a client near the limit
        cannot make the room encode the document for every message it sends.
        """
        limit = self.config.max_document_bytes
        if self._size + incoming <= limit:
            return
        now = time.monotonic()
        if not self._size_exact and now - self._size_measured_at >= 1.0:
            self._size_measured_at = now
            self._note_size(len(self._document.encoded()))
        if self._size + incoming > limit:
            self.stats.updates_refused += 1
            raise DocumentTooLarge(
                f"an update of {incoming} bytes would take the document past its limit of "
                f"{limit} bytes (it holds about {self._size})"
            )

    def _note_size(self, size: int) -> None:
        self._size, self._size_exact = size, True

    def _upkeep(self) -> None:
        if not self._touched:
            return
        keys, self._touched = self._touched, set()
        self._capturing = Origin.UPKEEP
        try:
            with self.doc.transaction(origin=Origin.UPKEEP):
                paths.upkeep(
                    self.doc, keys, now_ms=time.time() * 1000,
                    max_path_data=self.config.max_path_data,
                )
        finally:
            self._capturing = None
        self._touched.clear()  # upkeep's own changes need no second look

    def _on_transaction(self, event) -> None:
        self._replies.clear()  # the document changed
        self._changed_at = time.monotonic()
        if self._capturing in (Origin.CLIENT, Origin.UPKEEP):
            self._pending.append(event.update)
        elif self._capturing is Origin.RELAY:
            self._pending_remote.append(event.update)

    def _on_paths_changed(self, events) -> None:
        if self._capturing is Origin.CLIENT:
            self._touched |= paths.changed_keys(events)

    # -- the batch window ------------------------------------------------------------------

    def _open_window(self) -> None:
        if not self._window_open:
            self._window_open = True
            self._clock.schedule(self._window, self._phase)

    async def _batch_loop(self) -> None:
        while True:
            await self._window.wait()
            self._window = anyio.Event()
            self._window_open = False
            if not await self.flush():
                await anyio.sleep(self.config.store_retry_s)
                self._open_window()

    async def flush(self) -> bool:
        """Log the window's own changes, then send one merged update and one awareness to all.

        Returns False when storage failed; the changes stay pending and nothing is lost.
        """
        # One flush at a time: a second caller (closing, clean-up) waits for the first's write.
        async with self._flush_lock:
            return await self._flush()

    async def _flush(self) -> bool:
        local, self._pending = self._pending, []
        remote, self._pending_remote = self._pending_remote, []
        # Cursors need no durability, but they wait for the log write with the update so
        # that each client's sender wakes once per window for both.
        everything, own_awareness = self.awareness.take_pending()
        cursors = protocol.awareness(everything) if everything is not None else None
        merged_local: bytes | None = None
        seq: int | None = None
        self._flushing = True
        try:
            if local:
                merged_local = protocol.merged(local)
                started = time.perf_counter()
                seq = await self._store.append(self.id, merged_local)
                self.stats.log_append_seconds += time.perf_counter() - started
                self._covered.append(seq)
                self.stats.updates_logged += 1
        except Exception as exc:
            self.stats.store_failures += 1
            self._pending[:0] = local
            self._pending_remote[:0] = remote
            if isinstance(exc, StorageFull):
                self._refuse_changes(exc)
            else:
                log.exception("appending to the update log failed", extra={"room": self.id})
            self._broadcast_cursors(cursors)
            if self._storage_full:
                self._answer_awaiting()  # serve what it has
            await self._publish(None, None, own_awareness)
            return False
        finally:
            self._flushing = False
        if self._storage_full and local:
            self._storage_full = False
            log.warning("storage writable again; changes accepted", extra={"room": self.id})
        outgoing = [u for u in (merged_local, *remote) if u is not None]
        if outgoing:
            self.stats.batches_broadcast += 1
            self._broadcast(protocol.sync_update(protocol.merged(outgoing)))
        self._broadcast_cursors(cursors)
        self._answer_awaiting()
        await self._publish(merged_local, seq, own_awareness)
        return True

    def _refuse_changes(self, exc: StorageFull) -> None:
        """Storage is full: serve what the room has, refuse changes until a retry succeeds."""
        if not self._storage_full:
            log.warning(
                "storage full: changes refused until it can be written; unlogged changes kept",
                extra={"room": self.id, "error": str(exc)},
            )
        self._storage_full = True

    def _broadcast_cursors(self, message: bytes | None) -> None:
        if message is not None:
            self._broadcast(message)
            self._presence_changed()

    def _broadcast(self, message: bytes) -> None:
        # One encoding, the same bytes to every client.
        for client in list(self.clients):
            client.enqueue(message)
        self.stats.messages_sent += len(self.clients)
        self.stats.bytes_sent += len(message) * len(self.clients)

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
            self._replies.clear()
            now = time.monotonic()
            self._maybe_sleep(now)
            if self.awareness.remove_outdated(now=now, timeout=self.config.awareness_timeout_s):
                self._open_window()
            live = self.state is RoomState.LIVE  # closing: connections are not read
            for client in list(self.clients):
                if live and now - client.last_received >= config.silence_timeout_s:
                    client.kick(SilentClient(
                        f"nothing received for {config.silence_timeout_s:g} s; reconnect"
                    ))
                elif now - client.last_sent >= config.heartbeat_s:
                    client.enqueue(EMPTY_AWARENESS)

    def _maybe_sleep(self, now: float) -> None:
        after = self.config.sleep_after_s
        if (
            after <= 0
            or self._document.asleep
            or self.state is not RoomState.LIVE
            or now - self._changed_at < after
            or self._pending
            or self._pending_remote
            or self._awaiting_reply
            or self._touched
            or self._flushing
        ):
            return
        size = self._document.sleep()
        self._note_size(size)
        self.stats.rooms_slept += 1
        log.info("room document asleep", extra={"room": self.id, "bytes": size})

    async def snapshot(self) -> bool:
        """Fold the log entries the document holds into its snapshot; False if storage failed."""
        if not self._covered:
            return True
        covered, self._covered = self._covered, []
        try:
            state = self._document.encoded()
            self._note_size(len(state))
            await self._store.snapshot(self.id, state=state, covered_seqs=covered)
        except Exception as exc:
            self._covered[:0] = covered
            self.stats.store_failures += 1
            if isinstance(exc, StorageFull):
                log.warning("snapshot refused: storage full; will retry", extra={"room": self.id})
            else:
                log.exception("snapshot failed; will retry", extra={"room": self.id})
            return False
        log.info("room snapshotted", extra={"room": self.id, "log_entries": len(covered)})
        return True

    # -- presence --------------------------------------------------------------------------

    def active_user_ids(self) -> set[str]:
        return {client.identity.user_id for client in self.clients}

    def _presence_changed(self) -> None:
        if self._presence is not None:
            self._presence.changed()

    async def _report_activity(self, client: Client) -> None:
        activity = self._ports.activity
        if activity is None:
            return
        try:
            await activity.user_seen(user_id=client.identity.user_id)
            if self._ports.presence is None:
                await activity.active_users_changed(
                    room_id=self.id, count=len(self.active_user_ids())
                )
        except Exception:
            log.exception("recording activity failed", extra={"room": self.id})

    # -- history ---------------------------------------------------------------------------

    def restore(self, point: list[PathEntry]) -> int:
        """Bring back a history point's board as a change (crdt/restore.py, §7).

        Logged, sent within the window and relayed like upkeep's changes, which it resembles:
        made by the server, valid by construction. Returns how many paths it pushed.
        """
        self._capturing = Origin.UPKEEP
        try:
            with self.doc.transaction(origin=Origin.UPKEEP):
                changed = restore_board(
                    self.doc, point, now_ms=time.time() * 1000,
                    max_path_data=self.config.max_path_data,
                )
        finally:
            self._capturing = None
        self._open_window()
        return changed
