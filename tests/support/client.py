"""The test client: one user, a pycrdt document kept in sync over the y-websocket protocol.

Besides drawing and setting its awareness, it can wait for exact events: the server's
echo of its own changes (each client gets its own batch back, merged with everyone's) and
presence changes. `examples/client.py` is a small command line around it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import anyio
import websockets
from pycrdt import (
    Decoder,
    Doc,
    Encoder,
    YMessageType,
    YSyncMessageType,
    create_awareness_message,
    create_sync_message,
    create_update_message,
    handle_sync_message,
)

from crdt import paths

REMOTE = "remote"


def clock_of(doc: Doc, client_id: int) -> int:
    """How many of `client_id`'s changes `doc` holds (its entry in the state vector)."""
    decoder = Decoder(doc.get_state())
    for _ in range(decoder.read_var_uint()):
        client, clock = decoder.read_var_uint(), decoder.read_var_uint()
        if client == client_id:
            return clock
    return 0


class BoardClient:
    """One user: a pycrdt document kept in sync with a room, plus an awareness state."""

    def __init__(self, ws_url: str, token: str | None = None, *, client_id: int | None = None):
        self.url = f"{ws_url}?token={token}" if token is not None else ws_url
        self.doc = Doc(client_id=client_id) if client_id is not None else Doc()
        self.awareness: dict[int, dict[str, Any] | None] = {}
        self.received: list[tuple[float, bytes]] = []
        self.synced = anyio.Event()
        self.close_code: int | None = None
        self.close_reason: str = ""
        self._clock = 0
        self._ws: Any = None
        self._changed = anyio.Event()
        self._tg: Any = None
        self._outgoing: list[bytes] = []
        self._applying_remote = False
        # Every update the server sent, applied to a document of its own: what the server has
        # echoed, as opposed to what this client wrote locally.
        self._echoed = Doc()

    async def __aenter__(self) -> BoardClient:
        self._ws = await websockets.connect(self.url, max_size=None, compression=None)
        self._subscription = self.doc.observe(self._on_local_change)
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._read_loop)
        await self.send(create_sync_message(self.doc))
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._ws.close()
        self._tg.cancel_scope.cancel()
        await self._tg.__aexit__(None, None, None)
        self.doc.unobserve(self._subscription)

    async def send(self, message: bytes) -> None:
        await self._ws.send(message)

    def _on_local_change(self, event: Any) -> None:
        if self._applying_remote:
            return
        self._outgoing.append(create_update_message(event.update))

    async def flush_local(self) -> None:
        outgoing, self._outgoing = self._outgoing, []
        for message in outgoing:
            await self.send(message)

    async def _read_loop(self) -> None:
        try:
            async for message in self._ws:
                self.received.append((time.monotonic(), message))
                await self._handle(message)
                self._changed.set()
                self._changed = anyio.Event()
        except websockets.ConnectionClosed:
            pass
        finally:
            if self._ws.close_code is not None or self._ws.state.name == "CLOSED":
                self.close_code = self._ws.close_code
                self.close_reason = self._ws.close_reason or ""
            self._changed.set()

    async def _handle(self, message: bytes) -> None:
        kind = message[0]
        if kind == YMessageType.SYNC:
            self._applying_remote = True
            try:
                reply = handle_sync_message(message[1:], self.doc)
            finally:
                self._applying_remote = False
            if message[1] in (YSyncMessageType.SYNC_STEP2, YSyncMessageType.SYNC_UPDATE):
                self._echoed.apply_update(Decoder(message[2:]).read_message() or b"")
            if reply is not None:
                await self.send(reply)
            if message[1] == YSyncMessageType.SYNC_STEP2:
                self.synced.set()
        elif kind == YMessageType.AWARENESS:
            decoder = Decoder(Decoder(message[1:]).read_message() or b"")
            for _ in range(decoder.read_var_uint()):
                client_id = decoder.read_var_uint()
                decoder.read_var_uint()
                state = decoder.read_var_string()
                self.awareness[client_id] = json.loads(state) if state else None

    # -- what a user does -------------------------------------------------------------------

    async def draw(self, key: str, value: dict[str, Any], *, ts: float | None = None) -> None:
        paths.write_path(self.doc, key, value, ts=ts if ts is not None else time.time() * 1000)
        await self.flush_local()

    async def erase(self, key: str, *, ts: float | None = None) -> None:
        await self.draw(key, {"deleted": True}, ts=ts)

    async def set_awareness(self, state: dict[str, Any] | None) -> None:
        self._clock += 1
        encoder = Encoder()
        encoder.write_var_uint(1)
        encoder.write_var_uint(self.doc.client_id)
        encoder.write_var_uint(self._clock)
        encoder.write_var_string(json.dumps(state))
        await self.send(create_awareness_message(encoder.to_bytes()))

    def board(self) -> dict[str, paths.PathEntry]:
        return {entry.key: entry for entry in paths.read_paths(self.doc)}

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until `condition()` holds, re-checking after every message received."""
        with anyio.fail_after(timeout):
            while not condition():
                changed = self._changed
                await changed.wait()

    async def wait_for_echo(self, timeout: float = 5.0) -> None:
        """Wait until the server has sent back every change this client has made so far.

        The server broadcasts each batch to every member, its writer included, after it has
        merged (and stored) it: the echo is the event that says "the server has my change".
        """
        mine = clock_of(self.doc, self.doc.client_id)
        await self.wait_for(lambda: clock_of(self._echoed, self.doc.client_id) >= mine, timeout)

    async def wait_for_presence(self, client_id: int,
                                condition: Callable[[dict[str, Any] | None], bool] | None = None,
                                timeout: float = 5.0) -> dict[str, Any] | None:
        """Wait until the awareness of `client_id` is known (and `condition(state)` holds);
        a state of None is a member that left."""
        def seen() -> bool:
            if client_id not in self.awareness:
                return False
            return condition is None or condition(self.awareness[client_id])

        await self.wait_for(seen, timeout)
        return self.awareness[client_id]

    def messages_since(self, since: float) -> list[bytes]:
        """The messages received at or after `since` (a `time.monotonic()` reading)."""
        return [message for at, message in self.received if at >= since]

    async def wait_closed(self, timeout: float = 5.0) -> int | None:
        await self.wait_for(lambda: self.close_code is not None, timeout)
        return self.close_code



async def introduce(*clients: BoardClient, timeout: float = 5.0) -> None:
    """Each client sets an awareness state; wait until every one has seen everyone's.

    Awareness goes out at the end of a batch window, with or after everything the room
    received before it: once this returns, what the clients sent during their handshakes
    has been relayed, and what they receive next is of the test's own making.
    """
    for n, client in enumerate(clients):
        await client.set_awareness({"user": {"name": f"Member {n}"}, "cursor": {"x": 0, "y": 0}})
    for client in clients:
        for other in clients:
            await client.wait_for_presence(other.doc.client_id, timeout=timeout)
