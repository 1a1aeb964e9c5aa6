"""One port for everything: HTTP to uvicorn, websocket upgrades of `/ws/...` to picows.

uvicorn builds one protocol object per connection from `Config.http`; `SplitProtocol` is
that class. It reads the request head (nothing else: at most MAX_HEAD_BYTES), then hands
the connection to uvicorn's own HTTP protocol or to picows' `WSProtocol` (an
`asyncio.BufferedProtocol`) with `transport.set_protocol`, and feeds it the bytes it read.
Everything after that is the library's own. The websocket connection's task is kept in
uvicorn's `server_state.tasks`, as uvicorn keeps its request tasks, so its shutdown waits
for them the same way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from picows import WSAutoPingStrategy, WSUpgradeRequest
from picows.picows import WSProtocol  # type: ignore[attr-defined]  # not in picows' stubs
from starlette.applications import Starlette
from uvicorn import Config
from uvicorn.protocols.http.auto import AutoHTTPProtocol
from uvicorn.server import ServerState

from server.deps import Services, services_of
from server.picows_socket import PicowsTransport
from server.ws import serve_socket

WS_PREFIX = b"/ws/"
# A request head past this goes to uvicorn, which refuses it as HTTP would.
MAX_HEAD_BYTES = 16 * 1024
# The request head, and then picows' handshake, must arrive within this.
HANDSHAKE_TIMEOUT_S = 10.0

# uvicorn's line for an accepted websocket (its tests and log readers know it); the
# logging filter (server/logs.py) masks the token in it.
access_log = logging.getLogger("uvicorn.error")
frames_log = logging.getLogger("whiteboard.ws.frames")  # picows' own (warnings and up)


def is_websocket_upgrade(head: bytes) -> bool:
    """A `GET /ws/...` request head asking for a websocket."""
    request_line, _, headers = head.partition(b"\r\n")
    parts = request_line.split(b" ")
    if len(parts) != 3 or parts[0] != b"GET" or not parts[1].startswith(WS_PREFIX):
        return False
    for line in headers.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"upgrade" and value.strip().lower() == b"websocket":
            return True
    return False


def feed(protocol: asyncio.BaseProtocol, data: bytes) -> None:
    """Hand bytes already read to a protocol, whichever of asyncio's two kinds it is."""
    if isinstance(protocol, asyncio.BufferedProtocol):
        view = memoryview(data)
        while view:
            buffer = memoryview(protocol.get_buffer(len(view)))
            n = min(len(buffer), len(view))
            buffer[:n] = view[:n]
            protocol.buffer_updated(n)
            view = view[n:]
    elif isinstance(protocol, asyncio.Protocol):
        protocol.data_received(data)


class SplitProtocol(asyncio.Protocol):
    """uvicorn's `Config.http`: route each connection by its request head (see the module)."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._config = config
        self._server_state = server_state
        self._app_state = app_state
        self._loop = _loop
        self._transport: asyncio.Transport | None = None
        self._head = bytearray()
        self._timeout: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio's, only alike.
        self._transport = cast(asyncio.Transport, transport)
        # A connection that never completes its request head is not kept open for it.
        self._timeout = asyncio.get_running_loop().call_later(
            HANDSHAKE_TIMEOUT_S, self._transport.close
        )

    def data_received(self, data: bytes) -> None:
        self._head += data
        end = self._head.find(b"\r\n\r\n")
        if end < 0 and len(self._head) < MAX_HEAD_BYTES:
            return  # the rest of the head is still to come
        target: asyncio.BaseProtocol
        if end >= 0 and is_websocket_upgrade(bytes(self._head[:end])):
            target = self._websocket_protocol()
        else:
            target = AutoHTTPProtocol(  # type: ignore[call-arg]
                config=self._config, server_state=self._server_state,
                app_state=self._app_state, _loop=self._loop,
            )
        transport, head = self._transport, bytes(self._head)
        assert transport is not None
        self._cancel_timeout()
        self._head = bytearray()
        transport.set_protocol(target)
        target.connection_made(transport)
        feed(target, head)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None  # gone before its request head was complete
        self._cancel_timeout()

    def _cancel_timeout(self) -> None:
        if self._timeout is not None:
            self._timeout.cancel()
            self._timeout = None

    def _websocket_protocol(self) -> asyncio.BufferedProtocol:
        settings = self._services().settings
        protocol: asyncio.BufferedProtocol = WSProtocol(
            None, None, False,  # host and path (a client's), not the client side
            self._listener,
            frames_log,
            True,  # a failing callback disconnects (ours catch their own errors first)
            HANDSHAKE_TIMEOUT_S,
            False, 20.0, 20.0, WSAutoPingStrategy.PING_WHEN_IDLE,  # no pings of ours (4408)
            True,  # answer the peer's pings
            settings.max_message_bytes,  # a larger frame is closed with 1009 by picows
            None,  # no extra response headers
            16 * 1024,  # initial read buffer; it grows as frames need
        )
        return protocol

    def _listener(self, request: WSUpgradeRequest) -> PicowsTransport | None:
        """picows' listener factory: None (404) for a path that is not `/ws/<room_id>`."""
        target = request.path.decode("latin-1")
        url = urlsplit(target)
        room_id = url.path[len("/ws/"):]
        if not room_id or "/" in room_id:
            return None
        token = parse_qs(url.query).get("token", [None])[0]
        services = self._services()
        max_bytes = services.settings.max_message_bytes

        def opened(transport: PicowsTransport) -> None:
            peer = transport.websocket.underlying_transport.get_extra_info("peername")
            client = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "-"
            access_log.info('%s - "WebSocket %s" [accepted]', client, target)
            self._spawn(serve_socket(services, room_id, token, transport))

        return PicowsTransport(max_message_bytes=max_bytes, opened=opened)

    def _services(self) -> Services:
        app = self._config.app
        assert isinstance(app, Starlette), "the app is server/app.py's"
        return services_of(app)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        tasks = self._server_state.tasks
        task = asyncio.get_running_loop().create_task(_logging_failure(work))
        tasks.add(task)
        task.add_done_callback(tasks.discard)


def http_protocol(websockets_on_picows: bool) -> type[asyncio.Protocol]:
    """What `uvicorn.Config(http=...)` gets: the split, or uvicorn's own when the
    websocket stays on the ASGI path (compression on, or chosen so)."""
    return SplitProtocol if websockets_on_picows else AutoHTTPProtocol


async def _logging_failure(work: Coroutine[Any, Any, None]) -> None:
    # As uvicorn does for an ASGI app that raises: the connection's error is logged.
    try:
        await work
    except Exception:
        access_log.exception("Exception in websocket connection")
