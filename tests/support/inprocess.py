"""In-process implementations of the core's ports, for driving a Room without a server.

docs/architecture.md: the core "can be driven by a test with in-process ports and no server".
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from pycrdt import merge_updates

from crdt.ports import FrameSink, StoredDocument


@dataclass
class MemoryStore:
    log: list[tuple[int, bytes]] = field(default_factory=list)
    snapshot_state: bytes | None = None
    next_seq: int = 0

    async def load(self, room_id: str) -> StoredDocument | None:
        updates = ([self.snapshot_state] if self.snapshot_state else []) + [u for _, u in self.log]
        return StoredDocument(updates=updates, seqs=[s for s, _ in self.log])

    async def append(self, room_id: str, update: bytes) -> int:
        self.next_seq += 1
        seq = self.next_seq
        self.log.append((seq, update))
        return seq

    async def snapshot(self, room_id: str, *, state: bytes, covered_seqs: list[int]) -> None:
        self.snapshot_state = merge_updates(self.snapshot_state, state) if self.snapshot_state \
            else state
        self.log = [(s, u) for s, u in self.log if s not in set(covered_seqs)]


class MemoryTransport:
    """The room's end of an in-process connection: a bounded stream each way, its back-pressure
    shown as `paused` while a write waits for room in the stream."""

    def __init__(self, incoming: MemoryObjectReceiveStream[bytes],
                 outgoing: MemoryObjectSendStream[bytes]) -> None:
        self._incoming = incoming
        self._outgoing = outgoing
        self.close_code: int | None = None
        self.paused = False
        self._waiting: deque[bytes] = deque()  # what did not fit
        self._wake = anyio.Event()

    def write(self, message: bytes) -> None:
        try:
            if self._waiting:
                raise anyio.WouldBlock
            self._outgoing.send_nowait(message)
        except anyio.WouldBlock:
            self._waiting.append(message)
            self.paused = True
            self._wake.set()
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass  # the peer has gone: serve() ends

    def write_all(self, messages: Sequence[bytes]) -> None:
        for message in messages:
            self.write(message)

    async def serve(self, sink: FrameSink) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._send_waiting, sink)
            with suppress(anyio.ClosedResourceError):
                async for frame in self._incoming:
                    sink.frame_received(frame)
            tg.cancel_scope.cancel()

    async def _send_waiting(self, sink: FrameSink) -> None:
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            while self._waiting:
                try:
                    await self._outgoing.send(self._waiting[0])
                except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                    return
                self._waiting.popleft()
            self.paused = False
            sink.resume_writing()

    async def close(self, code: int, reason: str) -> None:
        self.close_code = code
        self.release()

    def release(self) -> None:
        self._incoming.close()
        self._outgoing.close()


def connection_pair(buffer: int = 10_000):
    """(the room's transport, the client's send stream, the client's receive stream)."""
    to_room_send, to_room_receive = anyio.create_memory_object_stream[bytes](buffer)
    to_client_send, to_client_receive = anyio.create_memory_object_stream[bytes](buffer)
    return MemoryTransport(to_room_receive, to_client_send), to_room_send, to_client_receive
