"""No token reaches the log, in either format, from any logger (docs/protocol.md §8).

Each test runs a real `whiteboard serve --access-log` through every path that carries a
token (websockets with good, bad and other rooms' tokens, export links, Bearer calls), stops
it, and reads everything the process wrote.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import jwt
import pytest
import websockets

from tests.support.client import BoardClient
from tests.support.servers import FAST_ENV, ServerProcess, create_room, join_room

pytestmark = pytest.mark.anyio

STROKE = {"d": "M 10 10 L 20 20", "color": "#1e1e1e", "width": 2}


@dataclass
class Exercised:
    room_id: str
    other_room_id: str
    tokens: list[str] = field(default_factory=list)

    def secrets(self) -> set[str]:
        """Every token, and each of its header, payload and signature segments."""
        found = set(self.tokens)
        for token in self.tokens:
            found.update(part for part in token.split(".") if part)
        return found


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    started: list[ServerProcess] = []

    def start(*args: str, **env: str) -> ServerProcess:
        folder = tmp_path / f"server{len(started)}"
        folder.mkdir()
        proc = ServerProcess(folder, {**FAST_ENV, **env}, args=list(args))
        started.append(proc)
        return proc.start()

    yield start
    for proc in started:
        proc.stop()


def tampered(token: str) -> str:
    """The same header and payload with another signature."""
    header, payload, signature = token.split(".")
    return f"{header}.{payload}.{signature[::-1]}"


def expired_for(room_id: str) -> str:
    now = int(time.time())
    claims = {"sub": "u", "name": "N", "room": room_id, "iat": now - 120, "exp": now - 60}
    return jwt.encode(claims, FAST_ENV["WHITEBOARD_JWT_SECRET"], algorithm="HS256")


async def refused_with(ws_url: str, token: str) -> int | None:
    """The code the server closes a connection with `token` by (it sends nothing first)."""
    async with websockets.connect(f"{ws_url}?token={token}") as ws:
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv()
        return ws.close_code


async def exercise_every_token_path(server: ServerProcess) -> Exercised:
    alice = create_room(server, "Alice")
    bob = join_room(server, alice.room_id, "Bob")
    other = create_room(server, "Olga")
    done = Exercised(alice.room_id, other.room_id, [alice.token, bob.token, other.token])

    # A websocket with a good token draws a stroke, which the other member receives.
    async with BoardClient(alice.ws_url, alice.token) as a, BoardClient(bob.ws_url, bob.token) as b:
        await a.synced.wait()
        await b.synced.wait()
        await a.draw("stroke-1", STROKE)
        await b.wait_for(lambda: "stroke-1" in b.board())

    # Bad tokens: a forged signature, an expired one, one that is no JWT at all.
    for bad in (tampered(alice.token), expired_for(alice.room_id), "not-a-jwt-Zq8x7Kp2Wd"):
        done.tokens.append(bad)
        assert await refused_with(alice.ws_url, bad) == 4401
    # Another room's token.
    assert await refused_with(alice.ws_url, other.token) == 4403

    async with httpx.AsyncClient(base_url=server.base_url) as http:
        # The export link, also under a percent-encoded parameter name (Starlette decodes it).
        for name in ("token", "tok%65n"):
            answer = await http.get(f"/api/rooms/{alice.room_id}/svg?{name}={alice.token}")
            assert answer.status_code == 200, answer.text
        assert (await http.get(f"/api/rooms/{alice.room_id}/svg?token={tampered(bob.token)}")
                ).status_code == 401
        done.tokens.append(tampered(bob.token))
        # Bearer calls.
        bearer = {"Authorization": f"Bearer {bob.token}"}
        for path in (f"/api/rooms/{alice.room_id}", f"/api/rooms/{alice.room_id}/presence"):
            answer = await http.get(path, headers=bearer)
            assert answer.status_code == 200, answer.text
        answer = await http.get(f"/api/rooms/{alice.room_id}",
                                headers={"Authorization": f"Bearer {other.token}"})
        assert answer.status_code == 403, answer.text
    return done


def assert_no_secret_in(output: str, done: Exercised) -> None:
    leaked = sorted(secret for secret in done.secrets() if secret in output)
    assert not leaked, f"{len(leaked)} token parts in the server's output:\n{output}"


async def test_no_token_or_part_of_one_is_written_to_the_text_log(start_server):
    server = start_server("--access-log")
    done = await exercise_every_token_path(server)
    server.stop()
    output = server.log()

    assert_no_secret_in(output, done)
    room = done.room_id
    # The lines that used to carry the tokens are there, masked.
    assert f'"WebSocket /ws/{room}?token=***" [accepted]' in output
    assert f'"GET /api/rooms/{room}/svg?token=*** HTTP/1.1" 200' in output
    assert f'"GET /api/rooms/{room}/svg?tok%65n=*** HTTP/1.1" 200' in output
    assert f'"GET /api/rooms/{room}/presence HTTP/1.1" 200' in output
    assert f"whiteboard.ws connection closed room='{room}' code=4401" in output
    assert f"whiteboard.ws connection closed room='{room}' code=4403" in output


async def test_the_json_log_is_one_object_per_line_with_its_fields_and_no_token(start_server):
    server = start_server("--access-log", WHITEBOARD_LOG_FORMAT="json")
    done = await exercise_every_token_path(server)
    server.stop()
    output = server.log()

    assert_no_secret_in(output, done)
    lines = output.splitlines()
    records = []
    for line in lines:
        record = json.loads(line)
        assert isinstance(record, dict), line
        assert {"ts", "level", "logger", "message"} <= record.keys(), line
        records.append(record)
    loggers = {r["logger"] for r in records}
    assert {"uvicorn.error", "uvicorn.access", "whiteboard.ws", "whiteboard.app"} <= loggers

    room = done.room_id
    closed = {r["code"] for r in records
              if r["message"] == "connection closed" and r.get("room") == room}
    assert {4401, 4403} <= closed
    messages = [r["message"] for r in records]
    assert f'"WebSocket /ws/{room}?token=***" [accepted]' in "\n".join(messages)
    access = [r["message"] for r in records if r["logger"] == "uvicorn.access"]
    assert any(f'"GET /api/rooms/{room}/svg?token=*** HTTP/1.1" 200' in m for m in access)
    ready = next(r for r in records if r["message"] == "server ready")
    assert ready["level"] == "INFO" and ready["ts"].endswith("Z")
