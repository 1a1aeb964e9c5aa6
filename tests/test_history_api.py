"""GET /history and GET /svg?at= (docs/protocol.md §1, §7) against a real server."""

from __future__ import annotations

import uuid

import httpx
import pytest

from server.auth import TokenService
from tests.support.client import BoardClient
from tests.support.drawing import stroke
from tests.support.history_calls import auth, history, later, parse, svg_at, wait_points
from tests.support.servers import FAST_ENV, create_room

pytestmark = pytest.mark.anyio

RED, GREEN = "#e03131", "#2f9e44"



async def test_a_new_room_has_its_creation_point_then_one_per_snapshot_after_a_change(server):
    alice = create_room(server)
    [created] = history(server, alice)
    assert created["paths"] == 0 and created["at"].endswith("Z")
    async with BoardClient(alice.ws_url, alice.token) as a:
        await a.synced.wait()
        await a.draw("one", stroke(1, RED))
        await a.draw("two", stroke(2, GREEN))
        points = await wait_points(server, alice, 2)
        assert [p["paths"] for p in points] == [2, 0]  # newest first
        assert parse(points[0]["at"]) > parse(points[1]["at"])
        await a.erase("one")
        points = await wait_points(server, alice, 3)
        assert [p["paths"] for p in points] == [1, 2, 0]


async def test_the_board_is_drawn_as_it_stood_at_between_and_before_points(server):
    alice = create_room(server)
    async with BoardClient(alice.ws_url, alice.token) as a:
        await a.synced.wait()
        await a.draw("red", stroke(1, RED))
        first = (await wait_points(server, alice, 2))[0]
        await a.draw("green", stroke(2, GREEN))
        await a.erase("red")
        second = (await wait_points(server, alice, 3))[0]
    at_first = svg_at(server, alice, first["at"])
    assert at_first.status_code == 200
    assert at_first.headers["content-type"].startswith("image/svg+xml")
    assert RED in at_first.text and GREEN not in at_first.text
    between = svg_at(server, alice, later(first["at"], milliseconds=1)).text
    assert parse(later(first["at"], milliseconds=1)) < parse(second["at"])
    assert between == at_first.text
    at_second = svg_at(server, alice, second["at"]).text
    assert GREEN in at_second and RED not in at_second
    before = svg_at(server, alice, "2001-01-01T00:00:00Z")
    assert before.status_code == 200 and "<path" not in before.text
    # A naive time is UTC; a date alone is its midnight; an offset is honoured.
    assert svg_at(server, alice, second["at"].removesuffix("Z")).text == at_second
    assert svg_at(server, alice, "2001-01-01").status_code == 200
    plus_two = parse(second["at"]).astimezone().isoformat()
    assert svg_at(server, alice, plus_two).text == at_second
    # The plain link of an export works with ?at= too.
    link = httpx.get(f"{server.base_url}/api/rooms/{alice.room_id}/svg",
                     params={"at": first["at"], "token": alice.token})
    assert link.text == at_first.text


@pytest.mark.parametrize("at", ["yesterday", "", "2026-13-01T00:00:00Z", "1764100000000"])
async def test_an_unreadable_at_is_400(server, at):
    alice = create_room(server)
    response = svg_at(server, alice, at)
    assert response.status_code == 400
    assert "ISO 8601" in response.json()["detail"]


def forged(room_id: str) -> str:
    secret = FAST_ENV["WHITEBOARD_JWT_SECRET"]
    return TokenService(secret=secret, algorithm="HS256", ttl_s=60).issue(
        room_id=room_id, user_id=str(uuid.uuid4()), name="Mallory"
    )


@pytest.mark.parametrize("call", ["history", "svg_at", "restore"])
async def test_history_calls_check_the_token_then_the_room(server, call):
    alice = create_room(server)
    bob = create_room(server)

    def send(room_id: str, headers: dict[str, str]) -> httpx.Response:
        url = f"{server.base_url}/api/rooms/{room_id}"
        if call == "history":
            return httpx.get(f"{url}/history", headers=headers)
        if call == "svg_at":
            return httpx.get(f"{url}/svg", params={"at": "2030-01-01T00:00:00Z"}, headers=headers)
        return httpx.post(f"{url}/restore", json={"at": "2030-01-01T00:00:00Z"}, headers=headers)

    assert send(alice.room_id, {}).status_code == 401
    assert send(alice.room_id, {"Authorization": "Bearer nonsense"}).status_code == 401
    assert send(alice.room_id, auth(bob)).status_code == 403
    ghost = str(uuid.uuid4())
    missing = send(ghost, {"Authorization": f"Bearer {forged(ghost)}"})
    assert missing.status_code == 404 and missing.json() == {"detail": "Room not found"}
    assert send(alice.room_id, auth(alice)).status_code == 200
