"""Stopping in the right order (docs/protocol.md §8): the rooms first, then uvicorn.

uvicorn's own shutdown closes every websocket with 1012 at once, waits for them, and only
then runs the lifespan's shutdown, where the rooms would log their last batches: their
clients would get them only after reconnecting. `GracefulServer` stops listening, then has
every room finish its batch (logged, then sent), close its connections with 1012 and write
its snapshot, and only then lets uvicorn finish (keep-alive HTTP connections, the
lifespan), all well inside the 10 s a process manager gives before SIGKILL.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from types import FrameType

import anyio
import uvicorn
from starlette.types import ASGIApp

log = logging.getLogger("whiteboard.shutdown")

# From the first signal: the rooms get DRAIN_S to close, uvicorn's connections GRACE_S after
# that, then the lifespan's shutdown (quick: the rooms are closed by then). Should anything
# hang (a database call that never returns), the process exits at EXIT_S regardless.
DRAIN_S = 5.0
GRACE_S = 3
EXIT_S = 9.5


class GracefulServer(uvicorn.Server):
    """uvicorn's Server, calling `before_shutdown` after it stops listening and before it
    closes the connections that are left. A second SIGTERM or Ctrl-C stops waiting."""

    def __init__(
        self, config: uvicorn.Config, *, before_shutdown: Callable[[], Awaitable[None]]
    ) -> None:
        super().__init__(config)
        self._before_shutdown = before_shutdown
        self._signalled_at: float | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._signalled_at is None:
            self._signalled_at = time.monotonic()
        elif self.should_exit:
            # uvicorn forces its exit on a second Ctrl-C only; a second SIGTERM does too.
            self.force_exit = True
        super().handle_exit(sig, frame)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        signalled_at = self._signalled_at or time.monotonic()
        _exit_if_still_running_at(signalled_at + EXIT_S)
        # Stop accepting connections (uvicorn does this again, harmlessly).
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        started = time.monotonic()
        with anyio.move_on_after(DRAIN_S) as deadline:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._stop_waiting_if_forced, tg.cancel_scope)
                try:
                    await self._before_shutdown()
                except Exception:  # uvicorn's shutdown must run all the same
                    log.exception("closing the rooms failed")
                tg.cancel_scope.cancel()
        if self.force_exit:
            pass  # said so already
        elif deadline.cancelled_caught:
            log.warning("rooms did not close in time; closing what is left",
                        extra={"seconds": DRAIN_S})
        else:
            log.info("rooms closed", extra={"seconds": round(time.monotonic() - started, 3)})
        await super().shutdown(sockets)

    async def _stop_waiting_if_forced(self, scope: anyio.CancelScope) -> None:
        # Polled: the flag is set in a signal handler, where setting an Event is not safe.
        while not self.force_exit:  # noqa: ASYNC110
            await anyio.sleep(0.05)
        log.warning("second signal: exiting without waiting")
        scope.cancel()


def close_rooms_of(app: ASGIApp) -> Callable[[], Awaitable[None]]:
    """`before_shutdown` for the app of server/app.py: close its RoomManager's rooms."""

    async def close_rooms() -> None:
        services = getattr(getattr(app, "state", None), "services", None)
        if services is not None:  # None: the lifespan never got as far as the rooms
            await services.rooms.close_all()

    return close_rooms


def _exit_if_still_running_at(deadline: float) -> None:
    def watchdog() -> None:
        time.sleep(max(0.0, deadline - time.monotonic()))
        log.error("shutdown did not finish in time; exiting now", extra={"seconds": EXIT_S})
        logging.shutdown()
        os._exit(1)

    threading.Thread(target=watchdog, name="shutdown-watchdog", daemon=True).start()
