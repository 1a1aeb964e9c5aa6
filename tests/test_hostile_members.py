"""One hostile room member cannot take the server down (docs/protocol.md §2-§4).

Each test plays an attack found by bench/abuse.py against a real `whiteboard serve` and
checks what the contract promises: the attacker is closed with its code, the server's
memory and storage stay bounded, and everyone else (in its room and in others) goes on.
Memory is the server's VmRSS, sampled in the background while an attack runs.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import websockets
from pycrdt import Text, write_var_uint

from crdt import paths
from tests.support.client import BoardClient
from tests.support.drawing import stroke
from tests.support.filesystems import fill, small_file_system
from tests.support.servers import FAST_ENV, ServerProcess, create_room, join_room, status_kb
from tests.support.waiting import until

pytestmark = pytest.mark.anyio

MB = 1_000_000
DEADLINE_S = 10.0  # generous: an event that is due comes well before it, even on 2 cores
ATTACKER_ID = 1_000_000  # a client id of three varUint bytes: sync step 1s of 8 bytes
BAD_STATE_VECTOR = bytes.fromhex("ccf8dc92a3503175b5a1")  # declares 2.7e12 entries


# -- the server ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def board_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server with the default limits for the attacks that need no settings of their own
    (each test uses rooms of its own)."""
    proc = ServerProcess(tmp_path_factory.mktemp("hostile"), dict(FAST_ENV)).start()
    yield proc
    proc.stop()


def rss_bytes(pid: int) -> int:
    return status_kb(pid) * 1024


class RssPeak:
    """The highest VmRSS of a process, sampled every 20 ms while `run` runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.baseline = rss_bytes(pid)
        self.peak = self.baseline

    async def run(self) -> None:
        while True:
            self.peak = max(self.peak, rss_bytes(self.pid))
            await anyio.sleep(0.02)  # a sampler's pace, not a wait for the server

    @property
    def growth_mb(self) -> float:
        self.peak = max(self.peak, rss_bytes(self.pid))
        return (self.peak - self.baseline) / MB


# -- lib0 / y-websocket framing ------------------------------------------------------------


def var_string(text: str) -> bytes:
    raw = text.encode()
    return write_var_uint(len(raw)) + raw


def sync_step1(state_vector: bytes) -> bytes:
    return b"\x00\x00" + write_var_uint(len(state_vector)) + state_vector


def awareness_frame(entries: list[tuple[int, int, str]], *, count: int | None = None) -> bytes:
    """An awareness message of (client id, clock, state JSON text) entries, as given;
    `count` declares another number of entries than there are."""
    update = write_var_uint(len(entries) if count is None else count) + b"".join(
        write_var_uint(cid) + write_var_uint(clock) + var_string(text)
        for cid, clock, text in entries
    )
    return b"\x01" + write_var_uint(len(update)) + update


def read_var_uint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def awareness_entries(message: bytes) -> list[tuple[int, int, str]]:
    """(client id, clock, state JSON text) of each entry of an awareness message."""
    assert message[0] == 1
    length, pos = read_var_uint(message, 1)
    payload = message[pos: pos + length]
    count, pos = read_var_uint(payload, 0)
    entries = []
    for _ in range(count):
        cid, pos = read_var_uint(payload, pos)
        clock, pos = read_var_uint(payload, pos)
        size, pos = read_var_uint(payload, pos)
        entries.append((cid, clock, payload[pos: pos + size].decode()))
        pos += size
    return entries


def strict_json(text: str) -> Any:
    """JSON as JavaScript's JSON.parse reads it: no NaN, Infinity, or number beyond a double."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    def finite(number: str) -> float:
        value = float(number)
        if value in (float("inf"), float("-inf")):
            raise ValueError(f"{number} is not a finite number")
        return value

    return json.loads(text, parse_constant=refuse, parse_float=finite)


async def closed_within(ws: Any, timeout: float = DEADLINE_S) -> int | None:
    """Read until the server closes `ws`: its close code, or None if it is still open."""
    with anyio.move_on_after(timeout):
        try:
            while True:
                await ws.recv()
        except websockets.ConnectionClosed:
            return ws.close_code
    return None


async def close_code_after(url: str, *frames: bytes) -> int | None:
    async with websockets.connect(url, max_size=None, compression=None) as ws:
        for frame in frames:
            await ws.send(frame)
        return await closed_within(ws)


# -- strokes -------------------------------------------------------------------------------


def path_data(chars: int, seed: int = 0) -> str:
    """Valid SVG path data of about `chars` characters."""
    parts = ["M 0 0"]
    size, i = 5, seed
    while size < chars:
        segment = f" L {i % 997} {(i * 7) % 991}"
        parts.append(segment)
        size += len(segment)
        i += 1
    return "".join(parts)


def key(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def draw_many(client: BoardClient, keys: list[str], chars: int) -> None:
    """Write every key as a stroke of about `chars` characters, in one transaction."""
    with client.doc.transaction():
        for i, k in enumerate(keys):
            paths.write_path(client.doc, k, stroke(d=path_data(chars, i)), ts=time.time() * 1000)
    await client.flush_local()


def echoed(client: BoardClient, k: str) -> Callable[[], bool]:
    """Whether the server's broadcast of a stroke `k` reached `client` (its own included)."""
    needle = k.encode()
    return lambda: any(m[:2] == b"\x00\x02" and needle in m for _, m in client.received)


async def draw_and_see_it_come_back(client: BoardClient, prefix: str) -> str:
    k = key(prefix)
    await client.draw(k, stroke())
    await client.wait_for(echoed(client, k), DEADLINE_S)
    return k


# -- 1. sync step 1 amplification ----------------------------------------------------------


async def test_sync_step_1s_from_a_client_that_never_reads_cost_bounded_memory_and_stall_no_one(
    board_server,
):
    server = board_server
    writer = create_room(server, "Writer")
    canary_room = create_room(server, "Canary")
    attacker = join_room(server, writer.room_id, "Mallory")
    latecomer = join_room(server, writer.room_id, "Late")
    board = [key("big") for _ in range(200)]
    async with BoardClient(writer.ws_url, writer.token) as w:
        await w.synced.wait()
        for start in range(0, 200, 50):  # ~2 MB in four updates of ~500 KB
            await draw_many(w, board[start:start + 50], 10_000)
        await w.wait_for(echoed(w, board[-1]), DEADLINE_S)

    rss = RssPeak(server.process.pid)
    async with BoardClient(canary_room.ws_url, canary_room.token) as canary, \
            anyio.create_task_group() as tg:
        await canary.synced.wait()
        tg.start_soon(rss.run)
        # max_queue=1 and no recv: the client stops reading its socket, so the server's
        # sends back up through TCP to its own buffers.
        ws = await websockets.connect(f"{attacker.ws_url}?token={attacker.token}",
                                      max_queue=1, max_size=None, compression=None,
                                      ping_interval=None, close_timeout=1)
        try:
            # 250 sync step 1s of 8 bytes, state vectors {ATTACKER_ID: clock} with 100
            # distinct clocks (no cached reply serves them all), each asking for the whole
            # board; 25 at a time, and the canary draws a stroke between two bursts.
            frames = [sync_step1(b"\x01" + write_var_uint(ATTACKER_ID) + bytes([i % 100]))
                      for i in range(250)]
            assert {len(f) for f in frames} == {8}
            for burst in range(10):
                for frame in frames[burst * 25:(burst + 1) * 25]:
                    await ws.send(frame)
                await draw_and_see_it_come_back(canary, f"canary{burst}")
            # A newcomer to the attacked room still gets the whole board and its own stroke.
            async with BoardClient(latecomer.ws_url, latecomer.token) as late:
                await late.wait_for(lambda: set(board) <= set(late.board()), DEADLINE_S)
                await draw_and_see_it_come_back(late, "late")
            growth = rss.growth_mb
        finally:
            ws.transport.abort()
        tg.cancel_scope.cancel()
    # Before the fix every step 1 queued its own 2 MB reply: 250 of them held ~500 MB and
    # the server grew to gigabytes. Now a connection holds one reply and a room encodes
    # one per window: a few copies of the board plus the websocket buffers.
    assert growth < 200, f"the server grew by {growth:.0f} MB during the attack (bound 200)"


# -- 2. awareness --------------------------------------------------------------------------


async def awareness_bytes_a_joiner_receives(server: ServerProcess, room_id: str) -> int:
    """Bytes in awareness messages a fresh client receives from joining until its own
    state has come back (so a whole batch window has passed)."""
    seat = join_room(server, room_id, "Joiner")
    own_id = 424242
    total = 0
    async with websockets.connect(f"{seat.ws_url}?token={seat.token}", max_size=None,
                                  compression=None) as ws:
        await ws.send(sync_step1(b"\x00"))
        await ws.send(awareness_frame([(own_id, 1, '{"cursor":null}')]))
        with anyio.fail_after(DEADLINE_S):
            while True:
                message = await ws.recv()
                if message[0] == 1:
                    total += len(message)
                    if any(cid == own_id for cid, _, _ in awareness_entries(message)):
                        return total


@pytest.mark.parametrize(
    "entries, declared",
    [(50_000, None), (50_000, 600_000)],
    ids=["carries-50000-entries", "declares-600000-entries"],
)
async def test_an_awareness_message_of_thousands_of_client_ids_is_closed_and_not_kept(
    board_server, entries, declared
):
    server = board_server
    room = create_room(server, "Mallory")
    # 50,000 `{}` states under distinct client ids: ~400 KB, under MAX_MESSAGE_BYTES.
    frame = awareness_frame([(100_000 + i, 1, "{}") for i in range(entries)], count=declared)
    async with websockets.connect(f"{room.ws_url}?token={room.token}", max_size=None,
                                  compression=None) as ws:
        await ws.send(frame)
        code = await closed_within(ws)
        # Joined while the attacker would still be connected had it not been closed.
        received = await awareness_bytes_a_joiner_receives(server, room.room_id)
    # Before the fix the 50,000 states were kept and relayed (a joiner got ~3 MB of them)
    # and the sender stayed connected. (The message declaring 600,000 was closed then too,
    # as truncated, but only after every entry present had been decoded.)
    assert code == 4400
    assert received < 4_000, f"a joiner received {received} bytes of awareness"


async def test_a_connection_that_introduces_more_than_four_client_ids_is_closed(board_server):
    room = create_room(board_server, "Mallory")
    async with websockets.connect(f"{room.ws_url}?token={room.token}", max_size=None,
                                  compression=None) as ws:
        for cid in range(1, 5):
            await ws.send(awareness_frame([(cid, 1, '{"cursor":null}')]))
        await ws.send(b"\x03")  # query awareness: answered while the connection is open
        with anyio.fail_after(DEADLINE_S):
            while True:
                message = await ws.recv()
                if message[0] == 1 and {1, 2, 3, 4} <= {e[0] for e in awareness_entries(message)}:
                    break
        await ws.send(awareness_frame([(5, 1, '{"cursor":null}')]))
        # Before the fix any number of ids was kept (the bench kept hundreds of thousands).
        assert await closed_within(ws) == 4400


def latest_entries(client: BoardClient) -> dict[int, tuple[int, str]]:
    """The newest (clock, state JSON) per client id among the awareness `client` received."""
    latest: dict[int, tuple[int, str]] = {}
    for _, message in client.received:
        if message[0] == 1:
            for cid, clock, text in awareness_entries(message):
                if cid not in latest or clock >= latest[cid][0]:
                    latest[cid] = (clock, text)
    return latest


async def test_clients_that_echo_each_others_states_as_stock_providers_do_are_never_closed(
    board_server,
):
    first = create_room(board_server, "P0")
    seats = [first] + [join_room(board_server, first.room_id, f"P{i}") for i in range(1, 6)]
    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(BoardClient(s.ws_url, s.token))
                   for s in seats]
        ids = [c.doc.client_id for c in clients]
        for rnd in range(3):
            for c in clients:
                await c.set_awareness({"user": {"name": "x"}, "cursor": {"x": rnd, "y": 0}})
            for c in clients:
                await c.wait_for(lambda c=c, rnd=rnd: all(
                    (c.awareness.get(cid) or {}).get("cursor") == {"x": rnd, "y": 0}
                    for cid in ids), DEADLINE_S)
            # Each re-sends every other client's state as it heard it (y-websocket's
            # provider broadcasts all awareness changes, remote ones included): five ids
            # per connection that are not its own, more than the four it may introduce.
            for c in clients:
                heard = latest_entries(c)
                echo = [(cid, *heard[cid]) for cid in ids if cid != c.doc.client_id]
                await c.send(awareness_frame(echo))
        # An echo of someone else's id with a newer clock and another cursor is ignored;
        # the sender's own next state, on the same connection, comes after it.
        forged_clock = latest_entries(clients[0])[ids[1]][0] + 5
        await clients[0].send(awareness_frame([(ids[1], forged_clock,
                                                '{"cursor":{"x":999,"y":999}}')]))
        await clients[0].set_awareness({"cursor": {"x": 7, "y": 7}})
        for c in clients:
            await c.wait_for(lambda c=c: (c.awareness.get(ids[0]) or {}).get("cursor")
                             == {"x": 7, "y": 7}, DEADLINE_S)
            assert c.awareness[ids[1]]["cursor"] == {"x": 2, "y": 0}
        # Fails if echoes counted as introductions: every connection would be closed 4400.
        assert [c.close_code for c in clients] == [None] * 6


def state_of_bytes(size: int, field: str) -> str:
    """A state's JSON text of exactly `size` bytes, `field` holding the filler."""
    head = '{"cursor":null,"' + field + '":"'
    text = head + "y" * (size - len(head) - 2) + '"}'
    assert len(text.encode()) == size
    return text


async def test_an_awareness_state_over_4096_bytes_is_closed_and_one_of_3000_is_relayed_whole(
    board_server,
):
    alice = create_room(board_server, "Alice")
    bob = join_room(board_server, alice.room_id, "Bob")
    carol = join_room(board_server, alice.room_id, "Carol")
    async with BoardClient(alice.ws_url, alice.token) as a, \
            BoardClient(bob.ws_url, bob.token) as b:
        await a.synced.wait()
        aid = a.doc.client_id
        sent = state_of_bytes(3_000, "extra")
        await a.send(awareness_frame([(aid, 1, sent)]))
        await b.wait_for(lambda: aid in b.awareness, DEADLINE_S)
        # Unknown fields are bounded by size, not dropped.
        assert b.awareness[aid]["extra"] == json.loads(sent)["extra"]
        async with BoardClient(carol.ws_url, carol.token) as c:
            await c.synced.wait()
            await c.send(awareness_frame([(c.doc.client_id, 1, state_of_bytes(4_097, "big"))]))
            # Before the fix only MAX_MESSAGE_BYTES (4 MiB) bounded a state.
            assert await c.wait_closed(DEADLINE_S) == 4400
        # Bob hears Alice's next state, and never heard Carol's.
        await a.set_awareness({"cursor": {"x": 5, "y": 5}})
        await b.wait_for(lambda: b.awareness[aid]["cursor"] == {"x": 5, "y": 5}, DEADLINE_S)
        assert all('"big"' not in text for _, text in latest_entries(b).values())
        assert a.close_code is None and b.close_code is None


async def test_an_empty_string_as_an_awareness_state_is_closed_with_4400(board_server):
    room = create_room(board_server, "Mallory")
    # Before the fix an empty state was read as null (a removal) and the sender stayed.
    url = f"{room.ws_url}?token={room.token}"
    assert await close_code_after(url, awareness_frame([(77, 1, "")])) == 4400


# -- 3. non-finite numbers -----------------------------------------------------------------


@pytest.mark.parametrize(
    "state",
    ['{"cursor": "bad", "x": 1e400}', '{"x": NaN}', '{"x": -Infinity}',
     '{"cursor": {"x": 1, "y": 2}, "deep": [[-1e999]]}'],
    ids=["1e400", "NaN", "-Infinity", "nested-1e999"],
)
async def test_a_non_finite_number_in_awareness_closes_its_sender_and_reaches_no_one(
    board_server, state
):
    alice = create_room(board_server, "Alice")
    mallory = join_room(board_server, alice.room_id, "Mallory")
    async with BoardClient(alice.ws_url, alice.token) as a:
        await a.synced.wait()
        url = f"{mallory.ws_url}?token={mallory.token}"
        code = await close_code_after(url, awareness_frame([(ATTACKER_ID, 1, state)]))
        # Alice's own state comes back in a later window than anything Mallory's was in.
        await a.set_awareness({"cursor": {"x": 3, "y": 4}})
        await a.wait_for(lambda: a.doc.client_id in a.awareness, DEADLINE_S)
        texts = [text for _, message in a.received if message[0] == 1
                 for _, _, text in awareness_entries(message)]
    # Before the fix `1e400` was accepted and relayed as `Infinity`, which JSON.parse
    # (and this strict parse) refuses: every browser in the room lost its awareness.
    # (NaN and -Infinity literals were refused then already: those cases guard it.)
    for text in texts:
        strict_json(text)
    assert code == 4400


# -- 4. a state vector that declares trillions of entries ----------------------------------


async def test_a_13_byte_sync_step_1_declaring_trillions_of_entries_is_closed_cheaply(
    board_server,
):
    server = board_server
    room = create_room(server, "Mallory")
    other = create_room(server, "Canary")
    frame = b"\x00\x00\x0a" + BAD_STATE_VECTOR
    assert len(frame) == 13
    rss = RssPeak(server.process.pid)
    async with BoardClient(other.ws_url, other.token) as canary, \
            anyio.create_task_group() as tg:
        await canary.synced.wait()
        tg.start_soon(rss.run)
        codes = []
        for i in range(5):
            codes.append(await close_code_after(f"{room.ws_url}?token={room.token}", frame))
            await draw_and_see_it_come_back(canary, f"canary{i}")
        growth = rss.growth_mb
        tg.cancel_scope.cancel()
    assert codes == [4400] * 5
    # Before the fix each one made yrs allocate ~1 GB (sized from the declared count).
    assert growth < 100, f"the server grew by {growth:.0f} MB (bound 100)"


# -- 5. document size and other roots ------------------------------------------------------


async def test_an_update_past_max_document_bytes_is_closed_with_4413_and_kept_nowhere(
    server_factory,
):
    server = server_factory(WHITEBOARD_MAX_DOCUMENT_BYTES="300000")
    alice = create_room(server, "Alice")
    bob = join_room(server, alice.room_id, "Bob")
    carol = join_room(server, alice.room_id, "Carol")
    early = [key("early") for _ in range(5)]
    too_much = [key("toomuch") for _ in range(40)]  # ~400 KB: past 300,000 bytes
    async with BoardClient(alice.ws_url, alice.token) as a, \
            BoardClient(bob.ws_url, bob.token) as b:
        await a.synced.wait()
        await b.synced.wait()
        await draw_many(a, early, 10_000)
        await b.wait_for(lambda: set(early) <= set(b.board()), DEADLINE_S)
        await draw_many(a, too_much, 10_000)
        # Before the fix nothing bounded a document: the update was stored and relayed.
        assert await a.wait_closed(DEADLINE_S) == 4413
        async with BoardClient(carol.ws_url, carol.token) as c:
            await c.synced.wait()
            after = await draw_and_see_it_come_back(c, "after")
            await b.wait_for(lambda: after in b.board(), DEADLINE_S)
        assert not set(too_much) & set(b.board())
        assert not any(k.encode() in m for _, m in b.received for k in too_much)
        assert b.close_code is None

    server.stop()
    again = server_factory(data_dir=server.data_dir, WHITEBOARD_MAX_DOCUMENT_BYTES="300000")
    fresh = join_room(again, alice.room_id, "Dave")
    async with BoardClient(fresh.ws_url, fresh.token) as d:
        await d.wait_for(lambda: {*early, after} <= set(d.board()), DEADLINE_S)
        assert not set(too_much) & set(d.board())


def database_bytes(server: ServerProcess) -> int:
    db = server.data_dir / "whiteboard.db"
    return sum(p.stat().st_size for p in (db, db.with_name("whiteboard.db-wal")) if p.exists())


def log_lines(server: ServerProcess, *needles: str) -> list[str]:
    return [line for line in server.log().splitlines() if all(n in line for n in needles)]


async def test_content_under_a_root_other_than_paths_is_never_stored_sent_or_exported(
    server_factory,
):
    server = server_factory()  # a server of its own: its database grows only by this test
    alice = create_room(server, "Alice")
    bob = join_room(server, alice.room_id, "Bob")
    carol = join_room(server, alice.room_id, "Carol")
    junk = "junk-" * 200_000  # 1 MB
    async with BoardClient(alice.ws_url, alice.token) as a, \
            BoardClient(bob.ws_url, bob.token) as b:
        await a.synced.wait()
        await b.synced.wait()
        first = await draw_and_see_it_come_back(a, "first")
        await until(lambda: log_lines(server, "room snapshotted", alice.room_id),
                    timeout=DEADLINE_S, what="a first snapshot")
        before = database_bytes(server)
        snapshots = len(log_lines(server, "room snapshotted", alice.room_id))
        k = key("withjunk")
        with a.doc.transaction():
            text = a.doc.get("junk", type=Text)
            text += junk
            paths.write_path(a.doc, k, stroke(), ts=time.time() * 1000)
        await a.flush_local()
        await b.wait_for(lambda: k in b.board(), DEADLINE_S)
        await until(
            lambda: len(log_lines(server, "room snapshotted", alice.room_id)) > snapshots,
            timeout=DEADLINE_S, what="a snapshot after the update",
        )
        grown = database_bytes(server) - before
        assert a.close_code is None and b.close_code is None

    async with BoardClient(carol.ws_url, carol.token) as c:
        await c.wait_for(lambda: {first, k} <= set(c.board()), DEADLINE_S)
        received = sum(len(m) for _, m in c.received)
        left = len(c.doc.get("junk", type=Text))  # its document, from what it received
    svg = httpx.get(f"{server.base_url}/api/rooms/{alice.room_id}/svg",
                    params={"token": alice.token})
    assert svg.status_code == 200
    # Before the fix the megabyte was logged, snapshotted, and sent to every joiner.
    assert left == 0
    assert received < 100_000, f"a joiner received {received} bytes"
    assert grown < 500_000, f"the database grew by {grown} bytes"
    assert "junk-" not in svg.text


# -- 6. storage full -----------------------------------------------------------------------


async def test_a_full_disk_refuses_changes_with_4507_keeps_readers_and_recovers_on_its_own(
    server_factory, tmp_path: Path
):
    with small_file_system(tmp_path / "fs", megabytes=8) as fs:
        env = {"WHITEBOARD_DATABASE_URL": f"sqlite:///{fs / 'whiteboard.db'}",
               "WHITEBOARD_BACKUP_DIR": str(tmp_path / "backups")}
        server = server_factory(data_dir=tmp_path / "data", **env)
        alice = create_room(server, "Alice")
        bob = join_room(server, alice.room_id, "Bob")
        carol = join_room(server, alice.room_id, "Carol")

        def refusing() -> bool:
            # The room's line, not a snapshot's (which says "snapshot refused: storage full").
            return any("snapshot" not in line
                       for line in log_lines(server, "storage full", alice.room_id))

        async with BoardClient(alice.ws_url, alice.token) as a, \
                BoardClient(bob.ws_url, bob.token) as b:
            await a.synced.wait()
            await b.synced.wait()
            before = await draw_and_see_it_come_back(a, "before")
            filler = fill(fs)
            # Space the database already holds may take a few strokes (50 KB each).
            held = None
            for i in range(60):
                k = key(f"fill{i}")
                await a.draw(k, stroke(d=path_data(50_000, i)))
                await until(lambda k=k: k in b.board() or refusing(),
                            timeout=DEADLINE_S, what=f"stroke {i} relayed or refused")
                if k not in b.board():
                    held = k  # applied, its log append failed: held in memory
                    break
            # Before the fix the append failed with a logged exception and nothing else:
            # no "storage full" line, and writers were never told.
            assert held is not None, "60 strokes of 50 KB never filled the disk"
            await a.draw(key("refused"), stroke())
            assert await a.wait_closed(DEADLINE_S) == 4507
            # Readers stay, and a fresh join gets the board.
            async with BoardClient(carol.ws_url, carol.token) as c:
                await c.wait_for(lambda: before in c.board(), DEADLINE_S)
            assert b.close_code is None

            filler.unlink()
            # The retry (every second) logs the held stroke and relays it.
            await b.wait_for(lambda: held in b.board(), DEADLINE_S)
            assert log_lines(server, "storage writable again", alice.room_id)
            async with BoardClient(alice.ws_url, alice.token) as a2:
                await a2.synced.wait()
                after = await draw_and_see_it_come_back(a2, "after")
            await b.wait_for(lambda: after in b.board(), DEADLINE_S)

        server.stop()
        again = server_factory(data_dir=tmp_path / "data", **env)
        fresh = join_room(again, alice.room_id, "Dave")
        async with BoardClient(fresh.ws_url, fresh.token) as d:
            await d.wait_for(lambda: {before, held, after} <= set(d.board()), DEADLINE_S)
        again.stop()
    assert any("storage full" in line for line in server.log().splitlines())

