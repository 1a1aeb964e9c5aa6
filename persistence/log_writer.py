"""Group commit for the update log: the appends of every room share one transaction per round.

Each room appends one merged update per batch window; a hundred busy rooms make a
thousand small commits a second, and SQLite, with one writer at a time, turns their
contention into seconds of busy-waiting. Here one task takes whatever has queued up,
writes it in one transaction from a worker thread, and answers every caller with its
sequence number once the commit is durable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import anyio
from anyio import to_thread
from anyio.abc import TaskStatus

MAX_ROUND = 1000


@dataclass
class _Append:
    room_id: str
    data: bytes
    done: anyio.Event = field(default_factory=anyio.Event)
    seq: int | None = None
    error: BaseException | None = None


WriteMany = Callable[[list[tuple[str, bytes]]], list[int]]


class GroupCommitLog:
    def __init__(self, write_many: WriteMany) -> None:
        self._write_many = write_many
        self._queue: list[_Append] = []
        self._wake = anyio.Event()
        self._running = False

    async def append(self, room_id: str, data: bytes) -> int:
        item = _Append(room_id, data)
        if not self._running:
            # No writer task (tests, CLI, or the server shutting down): write directly.
            await self._commit([item])
        else:
            self._queue.append(item)
            self._wake.set()
            await item.done.wait()
        if item.error is not None:
            raise item.error
        assert item.seq is not None
        return item.seq

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        self._running = True
        task_status.started()
        try:
            while True:
                await self._wake.wait()
                self._wake = anyio.Event()
                while self._queue:
                    round_, self._queue = self._queue[:MAX_ROUND], self._queue[MAX_ROUND:]
                    await self._commit(round_)
        finally:
            self._running = False
            with anyio.CancelScope(shield=True):
                while self._queue:
                    round_, self._queue = self._queue[:MAX_ROUND], self._queue[MAX_ROUND:]
                    await self._commit(round_)

    async def _commit(self, items: list[_Append]) -> None:
        try:
            seqs = await to_thread.run_sync(
                self._write_many, [(item.room_id, item.data) for item in items]
            )
        except Exception as exc:
            for item in items:
                item.error = exc
        else:
            for item, seq in zip(items, seqs, strict=True):
                item.seq = seq
        finally:
            for item in items:
                item.done.set()
