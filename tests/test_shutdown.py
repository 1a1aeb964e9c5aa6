"""docs/protocol.md §8 Shutdown: on SIGTERM every room finishes its batch (logged, then sent),
closes its websockets with 1012 and is snapshotted, and the process exits within 10 s."""

from __future__ import annotations

import signal
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import anyio
import pytest
import websockets

from tests.support.client import BoardClient
from tests.support.metrics import metric
from tests.support.servers import create_room, join_room
from tests.support.waiting import until

pytestmark = pytest.mark.anyio

# A long batch window, so that SIGTERM lands in the middle of one.
WINDOW_S = 1.0
# A stroke sent this long before the signal has reached the server when it stops reading.
IN_FLIGHT_S = 0.05
STROKE = {"color": "#224466", "width": 2}


class TimedClient(BoardClient):
    """A BoardClient that notes when its connection ended."""

    closed_at: float | None = None

    async def _read_loop(self) -> None:
        try:
            await super()._read_loop()
        finally:
            self.closed_at = time.monotonic()


@dataclass
class Writer:
    name: str
    client: TimedClient
    sent: list[tuple[str, float]] = field(default_factory=list)  # key, when its send returned

    async def draw_until_closed(self) -> None:
        i = 0
        while self.client.close_code is None:
            key = f"{self.name}-{i}"
            try:
                await self.client.draw(key, {**STROKE, "d": f"M {i} 0 L {i} 10"})
            except websockets.ConnectionClosed:
                return
            self.sent.append((key, time.monotonic()))
            i += 1
            await anyio.sleep(0.01)  # the writer's pace, about 100 strokes a second

    def sent_before(self, moment: float) -> set[str]:
        return {key for key, at in self.sent if at < moment}

    def sent_a_window_before_close(self) -> set[str]:
        assert self.client.closed_at is not None
        return self.sent_before(self.client.closed_at - WINDOW_S)


async def test_sigterm_relays_the_last_batch_closes_with_1012_and_keeps_what_was_seen(
    server_factory,
):
    # No periodic snapshot: what survives comes from the log or the shutdown's own snapshot.
    server = server_factory(WHITEBOARD_BATCH_INTERVAL_MS=str(int(WINDOW_S * 1000)),
                            WHITEBOARD_SNAPSHOT_INTERVAL_S="3600")
    rooms = [create_room(server, "Owner") for _ in range(2)]
    async with AsyncExitStack() as stack:
        writers: list[Writer] = []
        watchers: list[TimedClient] = []
        for r, room in enumerate(rooms):
            for w in range(3):
                joined = join_room(server, room.room_id, f"Writer {r}.{w}")
                client = await stack.enter_async_context(TimedClient(joined.ws_url, joined.token))
                writers.append(Writer(f"r{r}w{w}", client))
            joined = join_room(server, room.room_id, f"Watcher {r}")
            watchers.append(await stack.enter_async_context(
                TimedClient(joined.ws_url, joined.token)
            ))
        everyone = [w.client for w in writers] + watchers
        for client in everyone:
            await client.synced.wait()

        async with anyio.create_task_group() as tg:
            for writer in writers:
                tg.start_soon(writer.draw_until_closed)
            # Mid-drawing: each watcher has been relayed a batch of its room's strokes.
            for watcher in watchers:
                await watcher.wait_for(lambda w=watcher: len(w.board()) >= 30, timeout=10)
            # Mid-window: a batch has just reached room 0's watcher, and every writer has
            # drawn a good many strokes since (the next batch is most of a second away).
            relayed = len(watchers[0].board())
            await watchers[0].wait_for(lambda: len(watchers[0].board()) > relayed, timeout=5)
            drawn = [len(writer.sent) for writer in writers]
            await until(lambda: all(len(w.sent) >= n + 20
                                    for w, n in zip(writers, drawn, strict=True)),
                        interval=0.01, what="every writer drew 20 more strokes")
            started = time.monotonic()
            status = await anyio.to_thread.run_sync(server.stop)
            took = time.monotonic() - started
            for client in everyone:
                await client.wait_closed(timeout=5)

        assert took < 10, f"the server took {took:.1f} s to exit"
        # uvicorn 0.55 re-raises the SIGTERM it caught once it has stopped gracefully.
        assert status in (0, -signal.SIGTERM), (status, server.log()[-3000:])
        assert [c.close_code for c in everyone] == [1012] * len(everyone), server.log()[-3000:]

        # The batch in progress was finished: whatever the server had received when the
        # signal came reached the watcher of its room before the watcher's close.
        for r, watcher in enumerate(watchers):
            held = set(watcher.board())
            for writer in writers:
                if writer.name.startswith(f"r{r}"):
                    missing = writer.sent_before(started - IN_FLIGHT_S) - held
                    assert not missing, (writer.name, sorted(missing)[:10], len(missing))
        seen = [{**watcher.board(), **_seen_by_writers(writers, r)} for r, watcher in
                enumerate(watchers)]

    server.start()
    for r, room in enumerate(rooms):
        joined = join_room(server, room.room_id, "Fresh")
        async with BoardClient(joined.ws_url, joined.token) as fresh:
            await fresh.wait_for(lambda f=fresh, s=seen[r]: set(s) <= set(f.board()), timeout=10)
            board = fresh.board()
            assert {key: board[key] for key in seen[r]} == seen[r]
            for writer in writers:
                if writer.name.startswith(f"r{r}"):
                    assert writer.sent_a_window_before_close() <= set(board), writer.name


def _seen_by_writers(writers: list[Writer], room: int) -> dict:
    """The strokes each writer of a room received from the others (echoed by the server)."""
    seen = {}
    for writer in writers:
        if writer.name.startswith(f"r{room}"):
            own = f"{writer.name}-"
            seen |= {k: v for k, v in writer.client.board().items() if not k.startswith(own)}
    return seen


async def test_ctrl_c_stops_the_server_the_same_way_with_status_0(server_factory):
    server = server_factory(WHITEBOARD_BATCH_INTERVAL_MS="2000",
                            WHITEBOARD_SNAPSHOT_INTERVAL_S="3600")
    room = create_room(server, "Alice")
    watcher = join_room(server, room.room_id, "Watcher")
    async with BoardClient(room.ws_url, room.token) as a, \
            BoardClient(watcher.ws_url, watcher.token) as w:
        await a.synced.wait()
        await w.synced.wait()
        # A two-second window: the strokes are still in the open batch when Ctrl-C arrives.
        received = messages_received(server)
        await a.draw("pending", {**STROKE, "d": "M 1 1 L 2 2"})
        await a.draw("pending-too", {**STROKE, "d": "M 3 3 L 4 4"})
        await until(lambda: messages_received(server) >= received + 2,
                    what="the server has both strokes (in its open window)")
        assert not {"pending", "pending-too"} & set(w.board())
        started = time.monotonic()
        status = await anyio.to_thread.run_sync(server.stop, signal.SIGINT)
        assert time.monotonic() - started < 10
        assert status == 0, server.log()[-3000:]
        assert await w.wait_closed() == 1012 and await a.wait_closed() == 1012
        # Relayed before the close, though its window had not ended.
        assert {"pending", "pending-too"} <= set(w.board())
    server.start()
    fresh = join_room(server, room.room_id, "Fresh")
    async with BoardClient(fresh.ws_url, fresh.token) as f:
        await f.wait_for(lambda: {"pending", "pending-too"} <= set(f.board()), timeout=10)


def messages_received(server) -> float:
    return metric(server, "whiteboard_messages_received_total")
