"""Abuse bench: what one hostile room member can cost a whiteboard server.

    .venv/bin/python bench/abuse.py                       # all five attacks, full scale
    .venv/bin/python bench/abuse.py --quick               # small scale smoke run (~2 min)
    .venv/bin/python bench/abuse.py --attacks 1,4 --whiteboard /path/to/.venv/bin/whiteboard

Each attack gets a fresh `whiteboard serve` in a new temporary working directory (so its
./data starts empty) on a free port of 127.0.0.1, with WHITEBOARD_MAX_ROOMS_PER_IP=100000
and every other setting at its default. While the attack runs:

- a thread samples the server's RSS (VmRSS of the process and any children) every 50 ms,
  and kills the server if it passes --rss-cap;
- a well-behaved client in ANOTHER room (a subprocess of its own, so that the attacker's
  work here does not disturb its clock) draws one small stroke every 100 ms and notes when
  the server's broadcast of its batch comes back: the echo latency, and the longest
  interval between two echoes, is how long the server's event loop left other rooms alone;
- the data folder (SQLite database, WAL, backups) is measured before, right after, and
  (attack 5) after --settle seconds.

The attacks (docs in bench/README.md, "Abuse"):
1. sync step 1 amplification: many 8-byte sync step 1 messages with a non-empty state
   vector on a large board, from a client that never reads;
2. awareness without limit: ~4 MB awareness messages of hundreds of thousands of client
   ids; what a joiner then receives; whether a 1 MB junk field is relayed;
3. a non-finite number in an awareness state: is what others receive still JSON?
4. a 13-byte sync step 1 whose state vector claims billions of entries, 5 times;
5. unbounded writing: 200 KB strokes as fast as the server takes them, disk growth, and a
   1 MB Y.Text root outside the protocol's `paths` map: is it stored and served?

Every loop is bounded in count and time, every connection goes to 127.0.0.1, each attack
is capped (240 s, plus writing and settling for attack 5) and the script stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import math
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import websockets
from pycrdt import Array, Doc, Map, Text

HOST = "127.0.0.1"
SCRIPT = Path(__file__).resolve()
MB = 1_000_000
UPDATE_TARGET_BYTES = 3_500_000  # board updates stay below WHITEBOARD_MAX_MESSAGE_BYTES (4 MiB)
MESSAGE_LIMIT_BYTES = 4 * 1024 * 1024  # the server's default WHITEBOARD_MAX_MESSAGE_BYTES
IDLE_BASELINE_S = 3.0  # the canary's undisturbed latency is measured over this, before each attack
SAMPLE_INTERVAL_S = 0.05
ATTACK_CAP_S = 240.0
STROKE_PERIOD_S = 0.1
BAD_STATE_VECTOR = bytes.fromhex("ccf8dc92a3503175b5a1")
NONFINITE_STATE = '{"cursor": "bad", "x": 1e400}'
JUNK_AWARENESS_ID = 2**31 - 7
BAD_AWARENESS_ID = 2**31 - 11
JUNK_CHARS = 1_000_000


# -- lib0 / y-websocket framing ----------------------------------------------------------------


def var_uint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    out.append(value)
    return bytes(out)


def read_var_uint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def var_string(text: str) -> bytes:
    raw = text.encode()
    return var_uint(len(raw)) + raw


def sync_step1(state_vector: bytes) -> bytes:
    return b"\x00\x00" + var_uint(len(state_vector)) + state_vector


def sync_update(update: bytes) -> bytes:
    return b"\x00\x02" + var_uint(len(update)) + update


def awareness_message(update: bytes) -> bytes:
    return b"\x01" + var_uint(len(update)) + update


def awareness_entry(client_id: int, clock: int, state_json: str) -> bytes:
    """An awareness update of one entry; the state goes as the JSON text given, unchecked."""
    return var_uint(1) + var_uint(client_id) + var_uint(clock) + var_string(state_json)


def sync_payload(message: bytes) -> tuple[int, bytes] | None:
    """(sync message type, payload) of a sync message, None for other messages."""
    if len(message) < 3 or message[0] != 0:
        return None
    length, pos = read_var_uint(message, 2)
    return message[1], message[pos : pos + length]


def awareness_entries(message: bytes) -> list[tuple[int, int, str]]:
    """(client id, clock, state JSON) of each entry of an awareness message."""
    length, pos = read_var_uint(message, 1)
    payload = message[pos : pos + length]
    count, pos = read_var_uint(payload, 0)
    entries = []
    for _ in range(count):
        client_id, pos = read_var_uint(payload, pos)
        clock, pos = read_var_uint(payload, pos)
        size, pos = read_var_uint(payload, pos)
        entries.append((client_id, clock, payload[pos : pos + size].decode(errors="replace")))
        pos += size
    return entries


def path_data(length: int) -> str:
    """Valid SVG path data (without its leading moveto) of about `length` characters."""
    parts: list[str] = []
    size = i = 0
    while size < length:
        segment = f" L {i % 997} {(i * 7) % 991}"
        parts.append(segment)
        size += len(segment)
        i += 1
    return "".join(parts)


def stroke(d: str) -> dict[str, Any]:
    """One version of a `paths` register (PROTOCOL.md §3); numbers as doubles."""
    return {"d": d, "color": "#1e1e1e", "width": 2.0, "ts": time.time() * 1000}


# -- the server under test -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _rss_of(pid: int) -> int:
    """VmRSS of a process and, recursively, its children, in bytes (0 once it is gone)."""
    total = 0
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
                    break
        children: set[int] = set()
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as listing:
                children.update(int(child) for child in listing.read().split())
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return total
    return total + sum(_rss_of(child) for child in children)


class Server:
    """`whiteboard serve` in a fresh working directory, with an RSS sampler and a cap."""

    def __init__(self, whiteboard: str, rss_cap: int) -> None:
        self.whiteboard = whiteboard
        self.rss_cap = rss_cap
        self.workdir = Path(tempfile.mkdtemp(prefix="wb-abuse-"))
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.samples: list[tuple[float, int]] = []
        self.killed_at_cap = False
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def ws_url(self, room_id: str, token: str) -> str:
        return f"ws://{HOST}:{self.port}/ws/{room_id}?token={token}"

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def log_path(self) -> Path:
        return self.workdir / "server.log"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WHITEBOARD_")}
        env["WHITEBOARD_MAX_ROOMS_PER_IP"] = "100000"
        command = [self.whiteboard, "serve", "--host", HOST, "--port", str(self.port)]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                command, cwd=self.workdir, env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
        self._sampler.start()

    async def wait_ready(self, budget_s: float = 60.0) -> None:
        deadline = time.monotonic() + budget_s
        async with httpx.AsyncClient(base_url=self.base_url, timeout=2) as http:
            while time.monotonic() < deadline:
                if not self.alive:
                    raise RuntimeError(f"server exited at start: {self.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/healthz")).status_code == 200:
                        return
                await asyncio.sleep(0.2)
        raise RuntimeError(f"server not healthy after {budget_s:.0f} s")

    def _sample(self) -> None:
        assert self.proc is not None
        while not self._stop.is_set() and self.proc.poll() is None:
            rss = _rss_of(self.proc.pid)
            self.samples.append((time.monotonic(), rss))
            if rss > self.rss_cap:
                self.killed_at_cap = True
                self._kill()
                return
            self._stop.wait(SAMPLE_INTERVAL_S)

    def rss_at(self, when: float) -> int | None:
        """The last sample taken at or before `when`."""
        best = None
        for t, rss in self.samples:
            if t > when:
                break
            best = rss
        return best

    def rss_peak(self, start: float, end: float) -> int | None:
        values = [rss for t, rss in self.samples if start <= t <= end]
        return max(values) if values else None

    def rss_now(self) -> int | None:
        return self.samples[-1][1] if self.samples else None

    def rss_grew(self, within_s: float) -> float:
        """Relative RSS growth over the last `within_s` seconds."""
        now = time.monotonic()
        window = [rss for t, rss in self.samples if t >= now - within_s]
        if len(window) < 2 or window[0] == 0:
            return 0.0
        return (max(window) - window[0]) / window[0]

    def disk_bytes(self) -> int:
        total = 0
        for folder, _dirs, files in os.walk(self.data_dir):
            for name in files:
                with contextlib.suppress(FileNotFoundError):
                    total += os.stat(os.path.join(folder, name)).st_size
        return total

    def close_lines(self, limit: int = 8) -> list[str]:
        """The server's own "connection closed" log lines (code and reason), the last few."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []
        closes = [line.split(" connection closed ", 1)[1] for line in lines
                  if " connection closed " in line]
        return [line[:200] for line in closes[-limit:]]

    def log_lines(self, *needles: str, limit: int = 10) -> list[str]:
        """The server's log lines holding any of `needles` (time of day and message), the last few."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []
        found = [line for line in lines if any(needle in line for needle in needles)]
        return [line.split(" ", 1)[-1][:200] for line in found[-limit:]]

    def biggest_files(self, count: int = 4) -> list[tuple[str, int]]:
        files = [(str(path.relative_to(self.data_dir)), path.stat().st_size)
                 for path in self.data_dir.rglob("*") if path.is_file()]
        return sorted(files, key=lambda item: -item[1])[:count]

    def log_tail(self, lines: int = 5) -> str:
        try:
            return " | ".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)  # the group this script started

    def stop(self, *, keep: bool = False) -> None:
        self._stop.set()
        self._kill()
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=15)
        if self._sampler.is_alive():
            self._sampler.join(timeout=5)
        if not keep:
            shutil.rmtree(self.workdir, ignore_errors=True)


@dataclass(frozen=True)
class Seat:
    """A token for one room, as the REST API hands it out."""

    room_id: str
    token: str


async def create_room(http: httpx.AsyncClient, name: str) -> Seat:
    response = await http.post("/api/rooms", json={"name": name})
    response.raise_for_status()
    answer = response.json()
    return Seat(answer["room_id"], answer["token"])


async def join_room(http: httpx.AsyncClient, room_id: str, name: str) -> Seat:
    response = await http.post(f"/api/rooms/{room_id}/join", json={"name": name})
    response.raise_for_status()
    return Seat(room_id, response.json()["token"])


# -- clients -------------------------------------------------------------------------------------


class Peer:
    """A client that reads everything (counting bytes per message type) and can send anything."""

    def __init__(self, url: str, on_message: Callable[[bytes, float], None] | None = None) -> None:
        self.url = url
        self.on_message = on_message
        self.bytes_by_kind: Counter[int] = Counter()
        self.count_by_kind: Counter[int] = Counter()
        self.last_at: dict[int, float] = {}
        self.step2 = asyncio.Event()
        self.step2_payload = b""
        self.closed = asyncio.Event()
        self._ws: Any = None
        self._reader: asyncio.Task[None] | None = None

    async def open(self) -> Peer:
        self._ws = await websockets.connect(
            self.url, max_size=None, compression=None, ping_interval=None, open_timeout=30,
            close_timeout=5,
        )
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        try:
            async for message in self._ws:
                if not isinstance(message, bytes) or not message:
                    continue
                now = time.monotonic()
                kind = message[0]
                self.bytes_by_kind[kind] += len(message)
                self.count_by_kind[kind] += 1
                self.last_at[kind] = now
                parsed = sync_payload(message)
                if parsed is not None and parsed[0] == 1:
                    self.step2_payload = parsed[1]
                    self.step2.set()
                if self.on_message is not None:
                    self.on_message(message, now)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed.set()

    async def send(self, message: bytes) -> None:
        await self._ws.send(message)

    def ending(self) -> str:
        """How the connection ended: the server's close code and reason, or "still open"."""
        if self._ws is None:
            return "never opened"
        received = self._ws.protocol.close_rcvd
        if received is not None:
            return f"{received.code} {received.reason}".strip()
        if not self.closed.is_set():
            return "still open"
        return "dropped without a close frame"

    async def close(self) -> None:
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(), 10)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader


class RawWebSocket:
    """A websocket client on a bare socket with a tiny receive buffer that reads only when asked.

    With a library client the library keeps reading into its own queue; here nothing is read
    until `drain_for_close`, so what the server sends piles up in the server.
    """

    def __init__(self, sock: socket.socket, leftover: bytes) -> None:
        self._sock = sock
        self._buffer = bytearray(leftover)

    @classmethod
    async def connect(cls, port: int, path: str, receive_buffer: int = 4096) -> RawWebSocket:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)  # before connect
        sock.setblocking(False)
        await asyncio.wait_for(loop.sock_connect(sock, (HOST, port)), 10)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        await loop.sock_sendall(sock, request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = await asyncio.wait_for(loop.sock_recv(sock, 4096), 30)
            if not chunk or len(head) > 65536:
                raise RuntimeError(f"websocket handshake failed: {head[:200]!r}")
            head += chunk
        status, _, rest = head.partition(b"\r\n\r\n")
        if b" 101 " not in status.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"websocket handshake refused: {status[:200]!r}")
        return cls(sock, rest)

    async def send(self, payload: bytes) -> None:
        mask = os.urandom(4)
        size = len(payload)
        if size < 126:
            header = bytes([0x82, 0x80 | size])
        elif size < 65536:
            header = bytes([0x82, 0x80 | 126]) + size.to_bytes(2, "big")
        else:
            header = bytes([0x82, 0x80 | 127]) + size.to_bytes(8, "big")
        key = (mask * (size // 4 + 1))[:size]
        masked = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(size, "big")
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(loop.sock_sendall(self._sock, header + mask + masked), 30)

    async def drain_for_close(self, budget_s: float) -> tuple[str, int]:
        """Read and discard until the server's close frame; (how it ended, bytes read)."""
        with contextlib.suppress(OSError):
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + budget_s
        read = len(self._buffer)
        skip = 0  # payload bytes of the current data frame still to discard
        while True:
            # Parse what is buffered: skip data frames, stop at a close frame.
            while True:
                if skip:
                    dropped = min(skip, len(self._buffer))
                    del self._buffer[:dropped]
                    skip -= dropped
                    if skip:
                        break
                frame = self._frame_header()
                if frame is None:
                    break
                opcode, length, header_size = frame
                if opcode == 0x8:
                    if len(self._buffer) < header_size + length:
                        break
                    body = bytes(self._buffer[header_size : header_size + length])
                    code = int.from_bytes(body[:2], "big") if len(body) >= 2 else 1005
                    return f"{code} {body[2:].decode(errors='replace')}".strip(), read
                del self._buffer[:header_size]
                skip = length
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return f"still open (read {read / MB:,.0f} MB in {budget_s:.0f} s, no close)", read
            try:
                chunk = await asyncio.wait_for(loop.sock_recv(self._sock, 1 << 20), remaining)
            except TimeoutError:
                continue
            except OSError as exc:
                return f"dropped without a close frame ({exc.__class__.__name__})", read
            if not chunk:
                return "dropped without a close frame", read
            read += len(chunk)
            self._buffer += chunk

    def _frame_header(self) -> tuple[int, int, int] | None:
        buffer = self._buffer
        if len(buffer) < 2:
            return None
        opcode, length, size = buffer[0] & 0x0F, buffer[1] & 0x7F, 2
        if length == 126:
            if len(buffer) < 4:
                return None
            length, size = int.from_bytes(buffer[2:4], "big"), 4
        elif length == 127:
            if len(buffer) < 10:
                return None
            length, size = int.from_bytes(buffer[2:10], "big"), 10
        return opcode, length, size

    def close(self) -> None:
        self._sock.close()


# -- the canary: a well-behaved client in another room, in a process of its own ----------------


async def canary_main(url: str) -> None:
    """Draw a small stroke every 100 ms; print when each is sent and when its echo comes back.

    Lines: `S <t> <key>` sent, `E <t> <key,key>` broadcast received holding those keys,
    `C <how it ended>`. Times are time.monotonic() (CLOCK_MONOTONIC, shared by processes).
    Runs until stdin closes or the connection ends.
    """

    def emit(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    doc, mirror = Doc(), Doc()
    own, seen = doc.get("paths", type=Map), mirror.get("paths", type=Map)
    updates: list[bytes] = []
    subscription = doc.observe(lambda event: updates.append(event.update))
    pending: dict[str, float] = {}
    loop = asyncio.get_running_loop()
    stdin_closed = loop.run_in_executor(None, sys.stdin.read)
    async with websockets.connect(
        url, max_size=None, compression=None, ping_interval=None, open_timeout=30
    ) as ws:

        async def read() -> None:
            try:
                async for message in ws:
                    received = time.monotonic()
                    parsed = sync_payload(message) if isinstance(message, bytes) else None
                    if parsed is None or parsed[0] not in (1, 2):
                        continue
                    mirror.apply_update(parsed[1])
                    found = [key for key in pending if key in seen]
                    for key in found:
                        del pending[key]
                    if found:
                        emit(f"E {received:.6f} {','.join(found)}")
            except websockets.ConnectionClosed:
                pass
            close = ws.protocol.close_rcvd
            emit(f"C {close.code} {close.reason}" if close else "C dropped")

        async def write() -> None:
            n = 0
            next_at = time.monotonic()
            while True:
                n += 1
                key = f"canary-{n}"
                own[key] = Array([stroke(f"M {n % 500} 10 L {n % 500 + 40} 60")])
                message = sync_update(updates.pop())
                updates.clear()
                sent = time.monotonic()
                pending[key] = sent
                emit(f"S {sent:.6f} {key}")
                await ws.send(message)
                next_at += STROKE_PERIOD_S
                now = time.monotonic()
                if next_at < now:  # late: no burst to catch up
                    next_at = now
                await asyncio.sleep(next_at - now)

        await ws.send(sync_step1(mirror.get_state()))
        emit("READY")
        tasks = [asyncio.create_task(read()), asyncio.create_task(write())]
        waiting = [asyncio.ensure_future(stdin_closed), tasks[0]]
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    doc.unobserve(subscription)
    os._exit(0)  # the stdin reader thread may still block


@dataclass
class EchoStats:
    strokes: int
    echoed: int
    longest_gap_s: float
    max_latency_s: float
    median_latency_s: float
    gap_start: float  # time.monotonic() at which the longest gap began


class Canary:
    """The parent's side of the canary subprocess."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.sent: dict[str, float] = {}
        self.echoed: dict[str, float] = {}
        self.echo_times: list[float] = []
        self.ended: str | None = None
        self.stopped_at: float | None = None
        self.ready = asyncio.Event()
        self._lines = asyncio.create_task(self._read_lines())

    @classmethod
    async def start(cls, url: str) -> Canary:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(SCRIPT), "--canary", url,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        canary = cls(proc)
        await asyncio.wait_for(canary.ready.wait(), 30)
        return canary

    async def _read_lines(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            kind, _, rest = raw.decode().strip().partition(" ")
            if kind == "READY":
                self.ready.set()
            elif kind == "S":
                at, _, key = rest.partition(" ")
                self.sent[key] = float(at)
            elif kind == "E":
                at, _, keys = rest.partition(" ")
                self.echo_times.append(float(at))
                for key in keys.split(","):
                    self.echoed[key] = float(at)
            elif kind == "C":
                self.ended = rest

    @property
    def last_echo(self) -> float:
        return self.echo_times[-1] if self.echo_times else 0.0

    async def stop(self) -> None:
        self.stopped_at = time.monotonic()
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(self._lines, 5)

    async def settle(self, sent_before: float, budget_s: float = 15.0) -> None:
        """Give the strokes sent before `sent_before` a last chance to come back."""
        deadline = time.monotonic() + budget_s
        while time.monotonic() < deadline and self.proc.returncode is None:
            if all(key in self.echoed for key, at in self.sent.items() if at <= sent_before):
                return
            await asyncio.sleep(0.1)

    def stats(self, start: float, end: float) -> EchoStats | None:
        """Echoes of the strokes sent in [start, end]; a stroke never echoed counts until the
        canary stopped; the longest gap runs from the last echo before `start` to `end`."""
        stopped = self.stopped_at or time.monotonic()
        latencies = []
        echoed = 0
        for key, sent in self.sent.items():
            if start <= sent <= end:
                back = self.echoed.get(key)
                if back is None and stopped - sent < 1.0:
                    continue  # sent as the canary stopped: no verdict
                echoed += back is not None
                latencies.append((back if back is not None else stopped) - sent)
        if not latencies:
            return None
        before = [t for t in self.echo_times if t <= start]
        points = [before[-1] if before else start]
        points += [t for t in self.echo_times if start < t <= end] + [end]
        gap, gap_start = max((b - a, a) for a, b in zip(points, points[1:], strict=False))
        return EchoStats(len(latencies), echoed, gap, max(latencies), statistics.median(latencies),
                         gap_start)


# -- one attack's run --------------------------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    board_bytes: int = 20 * MB
    board_d_bytes: int = 10_000
    step1_messages: int = 250
    awareness_ids: int = 600_000
    awareness_messages: int = 3
    bad_vector_connections: int = 5
    stroke_bytes: int = 200_000


QUICK = Scale(board_bytes=5 * MB, step1_messages=50, awareness_ids=100_000)


@dataclass
class Result:
    number: int
    title: str
    rss_baseline: int | None = None
    rss_peak: int | None = None
    echo: EchoStats | None = None
    echo_idle: EchoStats | None = None
    echo_after: EchoStats | None = None  # attack 5: while the server digests (--settle)
    disk_before: int | None = None
    disk_after: int | None = None
    disk_settled: int | None = None
    attacker: str = "–"
    outcome: str = ""
    facts: dict[str, Any] = field(default_factory=dict)
    server_closes: list[str] = field(default_factory=list)
    killed_at_cap: bool = False
    error: str | None = None
    seconds: float = 0.0


class Ctx:
    """What an attack works with, and where it records its measurements."""

    def __init__(self, server: Server, http: httpx.AsyncClient, canary: Canary, scale: Scale,
                 args: argparse.Namespace, result: Result) -> None:
        self.server = server
        self.http = http
        self.canary = canary
        self.scale = scale
        self.args = args
        self.result = result
        self.t0: float | None = None
        self.t1: float | None = None
        self.peers: list[Peer] = []

    async def seat(self, name: str, room_id: str | None = None) -> Seat:
        if room_id is None:
            return await create_room(self.http, name)
        return await join_room(self.http, room_id, name)

    async def peer(self, seat: Seat,
                   on_message: Callable[[bytes, float], None] | None = None) -> Peer:
        peer = await Peer(self.server.ws_url(seat.room_id, seat.token), on_message).open()
        self.peers.append(peer)
        return peer

    def fact(self, name: str, value: Any) -> None:
        self.result.facts[name] = value

    async def begin(self) -> None:
        """After the set-up: let the canary show its undisturbed latency, then start the clock."""
        await asyncio.sleep(IDLE_BASELINE_S)
        self.t0 = time.monotonic()
        self.result.rss_baseline = self.server.rss_now()
        self.result.disk_before = self.server.disk_bytes()

    def end(self) -> None:
        self.t1 = time.monotonic()
        if self.result.disk_before is not None:
            self.result.disk_after = self.server.disk_bytes() - self.result.disk_before

    async def until_recovered(self, *, min_s: float, max_s: float) -> float:
        """Wait until the canary hears echoes again and the RSS stopped growing; seconds waited."""
        start = time.monotonic()
        while (waited := time.monotonic() - start) < max_s and self.server.alive:
            await asyncio.sleep(0.25)
            if waited < min_s:
                continue
            echoing = time.monotonic() - self.canary.last_echo < 1.0
            if echoing and self.server.rss_grew(3.0) < 0.02:
                break
        return time.monotonic() - start


# -- the attacks ---------------------------------------------------------------------------------


async def build_board(peer: Peer, total_bytes: int, d_bytes: int) -> dict[str, Any]:
    """Write ~total_bytes of strokes in updates below the message limit; wait until logged."""
    started = time.monotonic()
    doc = Doc()
    paths = doc.get("paths", type=Map)
    count = max(1, total_bytes // d_bytes)
    per_update = max(1, UPDATE_TARGET_BYTES // (d_bytes + 64))
    tail = path_data(d_bytes - 12)
    updates = sent = 0
    for first in range(0, count, per_update):
        before = doc.get_state()
        with doc.transaction():
            for i in range(first, min(count, first + per_update)):
                paths[f"board-{i}"] = Array([stroke(f"M {i} 0{tail}")])
        message = sync_update(doc.get_update(before))
        await peer.send(message)
        updates += 1
        sent += len(message)
    # The server answers a sync step 1 once everything before it is in the log.
    peer.step2.clear()
    await peer.send(sync_step1(doc.get_state()))
    await asyncio.wait_for(peer.step2.wait(), 120)
    return {"paths": count, "bytes": sent, "updates": updates,
            "seconds": round(time.monotonic() - started, 1)}


async def attack_sync_step1(ctx: Ctx) -> None:
    """Many 8-byte sync step 1s (non-empty state vector) on a large board; never read."""
    scale = ctx.scale
    owner = await ctx.seat("owner")
    builder = await ctx.peer(owner)
    board = await build_board(builder, scale.board_bytes, scale.board_d_bytes)
    ctx.fact("board", f"{board['paths']:,} paths, {board['bytes'] / MB:.1f} MB in "
                      f"{board['updates']} updates ({board['seconds']} s to build and log)")
    seat = await ctx.seat("attacker", owner.room_id)
    client_id = random.randrange(1 << 14, 1 << 21)  # 3 bytes as a varUint: 8-byte messages
    message = sync_step1(var_uint(1) + var_uint(client_id) + var_uint(0))
    raw = await RawWebSocket.connect(ctx.server.port, f"/ws/{seat.room_id}?token={seat.token}")
    try:
        await ctx.begin()
        for _ in range(scale.step1_messages):
            await raw.send(message)
        ctx.fact("sent", f"{scale.step1_messages} x {len(message)}-byte sync step 1 "
                         f"({message.hex(' ')}), receive buffer 4 KB, nothing read")
        waited = await ctx.until_recovered(min_s=5, max_s=90)
        ctx.fact("other rooms answered again after", f"{waited:.1f} s")
        ctx.end()
        assert ctx.t1 is not None
        await ctx.canary.settle(ctx.t1)  # reading now makes the server send: not in the figures
        ending, read = await raw.drain_for_close(budget_s=20)
        ctx.result.attacker = ending
        ctx.fact("then read", f"{read / MB:,.0f} MB")
        ctx.result.outcome = (f"{scale.step1_messages} x {len(message)} B on a "
                              f"{board['bytes'] / MB:.0f} MB board")
    finally:
        raw.close()


def awareness_flood(first_id: int, entries: int, limit: int) -> tuple[bytes, int]:
    """One awareness message of up to `entries` `{}` states under distinct client ids from
    `first_id`, as many as fit in `limit` bytes; (message, entries in it)."""
    budget = limit - 16  # message type, payload length and entry count
    parts: list[bytes] = []
    size = 0
    for client_id in range(first_id, first_id + entries):
        entry = var_uint(client_id) + b"\x00\x02{}"  # clock 0, state "{}"
        if size + len(entry) > budget:
            break
        parts.append(entry)
        size += len(entry)
    return awareness_message(var_uint(len(parts)) + b"".join(parts)), len(parts)


async def wait_awareness_quiet(peer: Peer, budget_s: float = 60.0, quiet_s: float = 1.5) -> None:
    """Until the peer got awareness and then nothing more of it for `quiet_s`."""
    start = time.monotonic()
    while time.monotonic() - start < budget_s and not peer.closed.is_set():
        await asyncio.sleep(0.1)
        last = peer.last_at.get(1)
        if last is not None and time.monotonic() - last > quiet_s:
            return


async def join_and_count(ctx: Ctx, room_id: str) -> tuple[int, int]:
    """A fresh client joins: (bytes of awareness, states) it receives, until quiet."""
    states: list[int] = []

    def on_joiner(message: bytes, _at: float) -> None:
        if message[0] == 1:
            _length, pos = read_var_uint(message, 1)
            states.append(read_var_uint(message, pos)[0])

    joiner = await ctx.peer(await ctx.seat("joiner", room_id), on_joiner)
    await wait_awareness_quiet(joiner)
    received = joiner.bytes_by_kind[1]
    await joiner.close()
    return received, sum(states)


async def attack_awareness(ctx: Ctx) -> None:
    """~4 MB awareness messages of distinct client ids; what a joiner gets; a 1 MB junk field."""
    scale = ctx.scale
    owner = await ctx.seat("owner")
    broadcasts: list[tuple[float, int]] = []
    arrived = asyncio.Event()

    def on_attacker(message: bytes, at: float) -> None:
        if message[0] == 1 and len(message) >= 100_000:
            broadcasts.append((at, len(message)))
            arrived.set()

    attacker = await ctx.peer(owner, on_attacker)
    floods = []
    next_id = 1
    for _ in range(scale.awareness_messages):
        message, count = awareness_flood(next_id, scale.awareness_ids, MESSAGE_LIMIT_BYTES)
        floods.append((message, count))
        next_id += count
    await ctx.begin()
    rounds = []
    for message, count in floods:
        arrived.clear()
        sent = time.monotonic()
        rss_before = ctx.server.rss_now() or 0
        await attacker.send(message)
        # Until its broadcast comes back, or the server closes the attacker (a bounded server).
        waits = [asyncio.ensure_future(arrived.wait()), asyncio.ensure_future(attacker.closed.wait())]
        await asyncio.wait(waits, timeout=90, return_when=asyncio.FIRST_COMPLETED)
        for waiting in waits:
            waiting.cancel()
        back = broadcasts[-1] if arrived.is_set() else None
        rss_after = ctx.server.rss_peak(sent, time.monotonic()) or 0
        # A joiner now: states are dropped WHITEBOARD_AWARENESS_TIMEOUT_S (30 s) after their last update, so on
        # a slow machine the first message's states may be gone by the third.
        joiner_bytes, joiner_states = await join_and_count(ctx, owner.room_id)
        rounds.append({
            "entries": count, "bytes": len(message),
            "broadcast_back_s": round(back[0] - sent, 2) if back else None,
            "broadcast_bytes": back[1] if back else None,
            "rss_added": rss_after - rss_before,
            "joiner_bytes": joiner_bytes, "joiner_states": joiner_states,
        })
        if attacker.closed.is_set() or not ctx.server.alive:
            break
    for i, r in enumerate(rounds, 1):
        back = (f"its {r['broadcast_bytes'] / MB:.1f} MB broadcast back after "
                f"{r['broadcast_back_s']} s" if r["broadcast_back_s"] is not None
                else "no broadcast back (attacker closed)" if attacker.closed.is_set()
                else "no broadcast back within 90 s")
        ctx.fact(f"message {i}", f"{r['entries']:,} ids in {r['bytes'] / MB:.2f} MB: "
                                 f"+{r['rss_added'] / MB:,.0f} MB RSS, {back}; then a joiner got "
                                 f"{r['joiner_bytes'] / MB:,.1f} MB of awareness "
                                 f"({r['joiner_states']:,} states)")
    ctx.fact("rounds", rounds)

    junk_sent = asyncio.Event()
    junk_seen: list[int] = []

    def on_observer(message: bytes, _at: float) -> None:
        if message[0] == 1 and junk_sent.is_set() and b'"junk"' in message:
            junk_seen.extend(len(text) for client_id, _clock, text in awareness_entries(message)
                             if client_id == JUNK_AWARENESS_ID)

    observer = await ctx.peer(await ctx.seat("observer", owner.room_id), on_observer)
    await wait_awareness_quiet(observer)
    junk = json.dumps({"junk": "x" * JUNK_CHARS, "cursor": {"x": 1.0, "y": 1.0}})
    junk_sent.set()
    first_ending = attacker.ending()
    if attacker.closed.is_set():  # closed for the flood: the junk field comes on a new connection
        attacker = await ctx.peer(await ctx.seat("attacker-2", owner.room_id), on_attacker)
    await attacker.send(awareness_message(awareness_entry(JUNK_AWARENESS_ID, 1, junk)))
    for _ in range(100):  # up to 10 s
        if junk_seen or observer.closed.is_set():
            break
        await asyncio.sleep(0.1)
    relayed = f"relayed ({max(junk_seen) / MB:.1f} MB state)" if junk_seen else "not relayed"
    ctx.fact("1 MB junk field", relayed)
    ctx.end()
    ctx.result.attacker = first_ending if first_ending == attacker.ending() else (
        f"{first_ending}; junk field: {attacker.ending()}")
    assert ctx.t1 is not None
    await ctx.canary.settle(ctx.t1)
    await attacker.close()  # the server now announces every one of its states as gone
    left = time.monotonic()
    await ctx.until_recovered(min_s=2, max_s=60)
    await ctx.canary.settle(time.monotonic())
    ctx.fact("when the attacker left, other room", format_echo(ctx.canary.stats(left, time.monotonic())))
    most = max(rounds, key=lambda r: r["joiner_bytes"], default=None)
    got = (f"a joiner got up to {most['joiner_bytes'] / MB:,.1f} MB of awareness "
           f"({most['joiner_states']:,} states)" if most else "no joiner")
    ctx.result.outcome = f"{got}; 1 MB junk field {relayed.split(' (')[0]}"


def strict_json_verdict(text: str) -> str:
    """Whether a state's JSON is JSON a browser's JSON.parse reads, and the number finite."""

    def constant(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    def number(literal: str) -> float:
        value = float(literal)
        if not math.isfinite(value):
            raise OverflowError(f"{literal} is not a finite double")
        return value

    try:
        json.loads(text, parse_constant=constant)
    except ValueError as exc:
        return f"NOT JSON ({exc})"
    try:
        json.loads(text, parse_float=number)
    except OverflowError as exc:
        return f"JSON, but {exc}"
    return "strict JSON"


async def attack_nonfinite(ctx: Ctx) -> None:
    """An awareness state with 1e400 in it, as raw JSON text: what do the others receive?"""
    owner = await ctx.seat("owner")
    received: list[str] = []

    def on_observer(message: bytes, _at: float) -> None:
        if message[0] == 1:
            received.extend(text for client_id, _clock, text in awareness_entries(message)
                            if client_id == BAD_AWARENESS_ID)

    attacker = await ctx.peer(owner)
    await ctx.peer(await ctx.seat("observer", owner.room_id), on_observer)
    await ctx.begin()
    await attacker.send(awareness_message(awareness_entry(BAD_AWARENESS_ID, 1, NONFINITE_STATE)))
    for _ in range(50):  # up to 5 s
        if received or attacker.closed.is_set():
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)
    ctx.end()
    ctx.fact("sent", NONFINITE_STATE)
    if received:
        verdict = strict_json_verdict(received[-1])
        ctx.fact("observer received", f"{received[-1][:160]} -> {verdict}")
        relayed_infinity = verdict.startswith("NOT JSON")
        ctx.result.outcome = ("relayed `Infinity` (not JSON)" if relayed_infinity
                              else f"relayed, {verdict}")
    else:
        ctx.fact("observer received", "nothing for that client id within 5 s")
        ctx.result.outcome = "not relayed"
    ctx.result.attacker = attacker.ending()


async def attack_bad_vector(ctx: Ctx) -> None:
    """A 13-byte sync step 1 whose state vector claims a huge entry count, N connections in a row."""
    owner = await ctx.seat("owner")
    message = sync_step1(BAD_STATE_VECTOR)
    await ctx.begin()
    connections = []
    for _ in range(ctx.scale.bad_vector_connections):
        peer = await ctx.peer(await ctx.seat("attacker", owner.room_id))
        sent = time.monotonic()
        await peer.send(message)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(peer.closed.wait(), 60)
        done = time.monotonic()
        connections.append({"ending": peer.ending(), "seconds": round(done - sent, 2),
                            "rss_peak": ctx.server.rss_peak(sent, done)})
        await peer.close()
        if not ctx.server.alive:
            break
    await ctx.until_recovered(min_s=1, max_s=30)
    ctx.end()
    endings = Counter(c["ending"] for c in connections)
    ctx.result.attacker = "; ".join(f"{n} x {ending}" for ending, n in endings.items())
    ctx.fact("message", f"{len(message)} bytes: {message.hex(' ')}")
    ctx.fact("connections", "; ".join(
        f"closed after {c['seconds']} s, RSS peak {(c['rss_peak'] or 0) / MB:,.0f} MB"
        for c in connections))
    slowest = max((c["seconds"] for c in connections), default=0)
    ctx.result.outcome = f"{len(connections)} x {len(message)} B; slowest answer {slowest} s"


async def junk_text_served(ctx: Ctx) -> str:
    """Write a 1 MB Y.Text root `junk` in a room of its own; does a fresh client get it?"""
    owner = await ctx.seat("junk-writer")
    echoed = asyncio.Event()

    def on_writer(message: bytes, _at: float) -> None:
        if message[:2] == b"\x00\x02" and len(message) > JUNK_CHARS // 2:
            echoed.set()

    writer = await ctx.peer(owner, on_writer)
    doc = Doc()
    text = doc.get("junk", type=Text)
    text += "x" * JUNK_CHARS
    disk_before = ctx.server.disk_bytes()
    await writer.send(sync_update(doc.get_update()))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(echoed.wait(), 10)
    await asyncio.sleep(0.5)
    stored = ctx.server.disk_bytes() - disk_before
    reader = await ctx.peer(await ctx.seat("reader", owner.room_id))
    await reader.send(sync_step1(b"\x00"))
    served = 0
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(reader.step2.wait(), 30)
        copy = Doc()
        copy.apply_update(reader.step2_payload)
        served = len(str(copy.get("junk", type=Text)))
    ctx.fact("junk Text", f"writer: {writer.ending()}, echoed: {echoed.is_set()}, data folder "
                          f"+{stored / MB:.1f} MB, a fresh client got {served:,} characters of it")
    await writer.close()
    await reader.close()
    return "junk Text served" if served else "junk Text not served"


async def attack_flood(ctx: Ctx) -> None:
    """200 KB strokes as fast as the server takes them for --duration s; disk after --settle s."""
    junk = await junk_text_served(ctx)
    attacker = await ctx.peer(await ctx.seat("writer"))
    tail = path_data(ctx.scale.stroke_bytes - 12)
    duration, settle = ctx.args.duration, ctx.args.settle
    await ctx.begin()
    assert ctx.t0 is not None
    ctx.fact("writing began at", f"{datetime.now(UTC):%H:%M:%S} UTC (times below: seconds since)")
    deadline = ctx.t0 + duration
    strokes = sent = 0
    disk: list[tuple[float, int]] = []
    next_sample = ctx.t0
    while time.monotonic() < deadline and not attacker.closed.is_set() and ctx.server.alive:
        doc = Doc(client_id=random.randrange(1, 2**32))  # a fresh doc: the writer holds nothing
        doc.get("paths", type=Map)[f"flood-{strokes}"] = Array([stroke(f"M {strokes % 1000} 0{tail}")])
        message = sync_update(doc.get_update())
        try:
            await asyncio.wait_for(attacker.send(message), 30)
        except (TimeoutError, websockets.ConnectionClosed):
            break
        strokes += 1
        sent += len(message)
        if time.monotonic() >= next_sample:
            disk.append((time.monotonic() - ctx.t0, ctx.server.disk_bytes()))
            next_sample += 1.0
    wrote_for = time.monotonic() - ctx.t0
    ctx.end()
    assert ctx.t1 is not None and ctx.result.disk_after is not None
    ctx.fact("written", f"{strokes:,} strokes, {sent / MB:,.0f} MB in {wrote_for:.1f} s "
                        f"({sent / MB / wrote_for:.1f} MB/s accepted)")
    ctx.fact("data folder grew", f"{ctx.result.disk_after / MB / wrote_for:.1f} MB/s while writing")
    settle_until = ctx.t1 + settle
    next_sample = ctx.t1
    while time.monotonic() < settle_until and ctx.server.alive:
        if time.monotonic() >= next_sample:
            disk.append((time.monotonic() - ctx.t0, ctx.server.disk_bytes()))
            next_sample += 5.0
        await asyncio.sleep(min(1.0, max(0.0, settle_until - time.monotonic())))
    assert ctx.result.disk_before is not None
    ctx.result.disk_settled = ctx.server.disk_bytes() - ctx.result.disk_before
    settled = time.monotonic()
    await ctx.canary.settle(settled)
    ctx.result.echo_after = after = ctx.canary.stats(ctx.t1, settled)
    if after is not None:
        start = after.gap_start - ctx.t0
        ctx.fact("other room's longest gap while settling",
                 f"+{start:.1f} s to +{start + after.longest_gap_s:.1f} s")
    ctx.fact("server log", ctx.server.log_lines("snapshotted", "backup"))
    ctx.fact("biggest files", ", ".join(f"{name} {size(bytes_)}"
                                        for name, bytes_ in ctx.server.biggest_files()))
    backups = ctx.server.data_dir / "backups"
    ctx.fact("backups after settling", len(list(backups.glob("*.db"))) if backups.exists() else 0)
    ctx.fact("disk samples (s, MB)", [(round(t, 1), round(b / MB, 1)) for t, b in disk])
    ctx.result.attacker = attacker.ending()
    ctx.result.outcome = (f"{junk}; {ctx.result.disk_after / MB / wrote_for:.1f} MB/s "
                          f"to disk while writing")


@dataclass(frozen=True)
class Attack:
    title: str
    run: Callable[[Ctx], Awaitable[None]]


ATTACKS: dict[int, Attack] = {
    1: Attack("sync step 1 amplification", attack_sync_step1),
    2: Attack("awareness ids without limit", attack_awareness),
    3: Attack("a non-finite number in awareness", attack_nonfinite),
    4: Attack("13-byte state vector", attack_bad_vector),
    5: Attack("unbounded writing and storage", attack_flood),
}


async def run_attack(number: int, args: argparse.Namespace, scale: Scale) -> Result:
    attack = ATTACKS[number]
    result = Result(number, attack.title)
    started = time.monotonic()
    cap = ATTACK_CAP_S + (args.duration + args.settle if number == 5 else 0)
    server = Server(args.whiteboard, int(args.rss_cap * 1e9))
    try:
        server.start()
        await server.wait_ready()
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
            canary_seat = await create_room(http, "canary")
            canary = await Canary.start(server.ws_url(canary_seat.room_id, canary_seat.token))
            ctx = Ctx(server, http, canary, scale, args, result)
            try:
                await asyncio.wait_for(attack.run(ctx), cap)
            except TimeoutError:
                result.error = f"stopped at the {cap:.0f} s cap"
            except Exception as exc:  # a dead server breaks the clients: say so, go on
                if not server.killed_at_cap:
                    result.error = f"{exc.__class__.__name__}: {exc}"[:300]
                    traceback.print_exc(file=sys.stderr)
            finally:
                final = time.monotonic()
                if ctx.t0 is not None:
                    if ctx.t1 is None:
                        ctx.end()
                    assert ctx.t1 is not None
                    result.rss_peak = server.rss_peak(ctx.t0, final)
                    if server.alive:
                        await canary.settle(ctx.t1)
                    for peer in ctx.peers:
                        await peer.close()
                    await canary.stop()
                    result.echo = canary.stats(ctx.t0, ctx.t1)
                    result.echo_idle = canary.stats(ctx.t0 - IDLE_BASELINE_S, ctx.t0)
                else:
                    for peer in ctx.peers:
                        await peer.close()
                    await canary.stop()
                if canary.ended is not None:
                    result.facts["canary's own connection"] = canary.ended
    except Exception as exc:
        result.error = f"{exc.__class__.__name__}: {exc}"[:300]
    finally:
        result.killed_at_cap = server.killed_at_cap
        result.server_closes = server.close_lines()
        if result.error and not server.alive:
            result.facts["server log tail"] = server.log_tail()
        server.stop(keep=args.keep_data)
        result.seconds = round(time.monotonic() - started, 1)
    return result


# -- report --------------------------------------------------------------------------------------


def size(value: int | None, *, signed: bool = False) -> str:
    if value is None:
        return "–"
    sign = "+" if signed and value >= 0 else ""
    if abs(value) >= 1e9:
        return f"{sign}{value / 1e9:.2f} GB"
    if abs(value) >= 100 * MB:
        return f"{sign}{value / MB:,.0f} MB"
    if abs(value) >= MB:
        return f"{sign}{value / MB:.1f} MB"
    return f"{sign}{value / 1e3:.0f} kB"


def seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def format_echo(stats: EchoStats | None) -> str:
    if stats is None:
        return "–"
    lost = stats.strokes - stats.echoed
    text = (f"{seconds(stats.longest_gap_s)} / {seconds(stats.max_latency_s)} / "
            f"{seconds(stats.median_latency_s)}")
    return text + (f" ({lost} of {stats.strokes} never echoed)" if lost else "")


def table(results: list[Result]) -> str:
    rows = [
        "| # | attack | server RSS: before → peak | other room: longest echo gap / max / median "
        "latency (idle median) | data folder: right after / after settle | attacker's "
        "connection | outcome |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        peak = size(r.rss_peak) + (" (killed at RSS cap)" if r.killed_at_cap else "")
        idle = f" ({seconds(r.echo_idle.median_latency_s)})" if r.echo_idle else ""
        if r.echo_after is not None:
            idle += f"; settling: {format_echo(r.echo_after)}"
        settled = size(r.disk_settled, signed=True) if r.disk_settled is not None else "–"
        outcome = r.outcome + (f" — error: {r.error}" if r.error else "")
        rows.append(
            f"| {r.number} | {r.title} | {size(r.rss_baseline)} → {peak} | "
            f"{format_echo(r.echo)}{idle} | {size(r.disk_after, signed=True)} / {settled} | "
            f"{r.attacker.replace('|', '/')} | {outcome.replace('|', '/')} |"
        )
    return "\n".join(rows)


def details(results: list[Result]) -> str:
    lines = []
    for r in results:
        lines.append(f"{r.number}. {r.title} ({r.seconds:.0f} s)")
        for name, value in r.facts.items():
            if name != "rounds":
                lines.append(f"   - {name}: {value}")
        for close in r.server_closes:
            lines.append(f"   - server log, connection closed: {close}")
    return "\n".join(lines)


def server_commit(whiteboard: str) -> str:
    """The git commit of the checkout the `whiteboard` command runs from (+dirty marker)."""
    python = Path(whiteboard).with_name("python")
    try:
        where = subprocess.run(
            [str(python), "-I", "-c", "import server, os; print(os.path.dirname(server.__file__))"],
            capture_output=True, text=True, timeout=30, check=True, cwd="/",
        ).stdout.strip()
        commit = subprocess.run(["git", "-C", where, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=10, check=True)
        dirty = subprocess.run(["git", "-C", where, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")


def header(args: argparse.Namespace, scale: Scale) -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    memory = next((line.split(":")[1].strip() for line in Path("/proc/meminfo").read_text()
                   .splitlines() if line.startswith("MemTotal")), "?")
    return "\n".join([
        f"abuse bench, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {'quick' if args.quick else 'full'} scale",
        f"server: {args.whiteboard} at commit {server_commit(args.whiteboard)}",
        f"clients: Python {platform.python_version()}, pycrdt {version('pycrdt')}, "
        f"websockets {version('websockets')}, httpx {version('httpx')}",
        f"machine: {os.cpu_count()} CPUs, {memory} RAM, load average at start {load} "
        f"(shared: other work may be running)",
        f"scale: board {scale.board_bytes / MB:.0f} MB, {scale.step1_messages} step 1s, "
        f"{scale.awareness_messages} x {scale.awareness_ids:,} awareness ids, "
        f"{scale.bad_vector_connections} bad vectors, {scale.stroke_bytes / 1e3:.0f} KB strokes for "
        f"{args.duration:g} s, settle {args.settle:g} s; RSS cap {args.rss_cap:g} GB",
    ])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--whiteboard", default=str(Path(sys.executable).with_name("whiteboard")),
                        help="the `whiteboard` command to serve with (default: next to python)")
    parser.add_argument("--attacks", default="1,2,3,4,5", help="which attacks, e.g. 1,4")
    parser.add_argument("--duration", type=float, help="attack 5's writing, s (30; quick 5)")
    parser.add_argument("--settle", type=float, help="attack 5's wait after writing, s (180; quick 10)")
    parser.add_argument("--quick", action="store_true", help="small scale smoke run")
    parser.add_argument("--rss-cap", type=float, default=8.0,
                        help="kill the server past this RSS, GB (default 8)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--keep-data", action="store_true", help="keep each server's work dir")
    parser.add_argument("--canary", help=argparse.SUPPRESS)  # internal: run as the canary
    args = parser.parse_args(argv)
    if args.duration is None:
        args.duration = 5.0 if args.quick else 30.0
    if args.settle is None:
        args.settle = 10.0 if args.quick else 180.0
    args.duration = min(max(args.duration, 1.0), 120.0)
    args.settle = min(max(args.settle, 0.0), 600.0)
    return args


async def main_async(args: argparse.Namespace) -> int:
    scale = QUICK if args.quick else Scale()
    numbers = [int(n) for n in args.attacks.split(",") if n.strip()]
    unknown = [n for n in numbers if n not in ATTACKS]
    if unknown:
        print(f"unknown attack(s): {unknown}; choose from {sorted(ATTACKS)}", file=sys.stderr)
        return 2
    if not os.access(args.whiteboard, os.X_OK):
        print(f"not an executable: {args.whiteboard}", file=sys.stderr)
        return 2
    print(header(args, scale), flush=True)
    started = time.monotonic()
    results = []
    for number in numbers:
        print(f"attack {number}: {ATTACKS[number].title} ...", file=sys.stderr, flush=True)
        result = await run_attack(number, args, scale)
        print(f"attack {number}: done in {result.seconds:.0f} s", file=sys.stderr, flush=True)
        results.append(result)
    print()
    print(table(results))
    print()
    print(details(results))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\ntotal {time.monotonic() - started:.0f} s, load average at the end {load}; MB = 10^6 bytes. Latencies: a stroke sent "
          f"every {STROKE_PERIOD_S * 1000:.0f} ms in another room until the server's broadcast "
          f"of it came back (idle median: the {IDLE_BASELINE_S:.0f} s before the attack).")
    if args.json is not None:
        args.json.write_text(json.dumps({
            "header": header(args, scale), "results": [asdict(r) for r in results],
        }, indent=2, default=str))
    return 0


def main() -> None:
    args = parse_args()
    if args.canary:
        asyncio.run(canary_main(args.canary))
        return
    sys.exit(asyncio.run(main_async(args)))


if __name__ == "__main__":
    main()
