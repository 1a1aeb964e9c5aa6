"""In-process implementations of the core's ports, for driving a Room without a server.

docs/architecture.md: the core "can be driven by a test with in-process ports and no server".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from pycrdt import merge_updates

from crdt.ports import ConnectionClosed, StoredDocument


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
    """The room's end of an in-process connection."""

    def __init__(self, incoming: MemoryObjectReceiveStream[bytes],
                 outgoing: MemoryObjectSendStream[bytes]) -> None:
        self._incoming = incoming
        self._outgoing = outgoing
        self.close_code: int | None = None

    async def receive(self) -> bytes:
        try:
            return await self._incoming.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise ConnectionClosed from None

    async def send(self, message: bytes) -> None:
        try:
            await self._outgoing.send(message)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            raise ConnectionClosed from None

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
