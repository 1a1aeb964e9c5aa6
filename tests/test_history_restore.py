"""POST /restore (docs/protocol.md §7): a change every client receives, never a rollback."""

from __future__ import annotations

import time

import anyio
import httpx
import pytest

from tests.support.client import BoardClient
from tests.support.drawing import stroke
from tests.support.history_calls import history, restore, wait_points
from tests.support.js_client import JsClient
from tests.support.servers import create_room, join_room

pytestmark = pytest.mark.anyio

RED, GREEN, BLUE = "#e03131", "#2f9e44", "#1971c2"



def drawn(client: BoardClient) -> dict[str, str | None]:
    """What a client's board draws: key -> colour (tombstones left out)."""
    return {k: e.color for k, e in client.board().items() if not e.deleted}


async def test_restore_brings_the_old_board_to_every_client_and_can_be_undone(server):
    alice = create_room(server, "Alice")
    bob = join_room(server, alice.room_id, "Bob")
    ws_base = f"ws://127.0.0.1:{server.port}/ws"
    async with BoardClient(alice.ws_url, alice.token) as a, \
            BoardClient(bob.ws_url, bob.token) as b, \
            JsClient(ws_base, alice.room_id, bob.token, "Bob in Yjs") as js:
        await a.synced.wait()
        await b.synced.wait()
        await js.wait_event(lambda e: e.get("event") == "sync" and e["synced"])
        await a.draw("one", stroke(1, RED))
        await a.draw("two", stroke(2, GREEN))
        old = (await wait_points(server, alice, 2))[0]
        # Someone wipes the board and scribbles.
        await b.erase("one")
        await b.erase("two")
        await b.draw("scribble", stroke(3, BLUE))
        await a.wait_for(lambda: drawn(a) == {"scribble": BLUE})
        wiped = (await wait_points(server, alice, 3))[0]

        response = restore(server, bob, old["at"])
        assert response.status_code == 200, response.text
        assert response.json() == {"at": old["at"], "changed_paths": 3}
        board = {"one": RED, "two": GREEN}
        # The response comes once the change is logged and sent, in one window's batch.
        await a.wait_for(lambda: drawn(a) == board)
        await b.wait_for(lambda: drawn(b) == board)
        state = await js.wait_state(lambda s: {
            k: v["color"] for k, v in s["paths"].items() if not v.get("deleted")
        } == board)
        assert state["paths"]["scribble"]["deleted"] is True
        # A restore is a change: it makes a point, and restoring the wiped point undoes it.
        await wait_points(server, alice, 4)
        undo = restore(server, alice, wiped["at"])
        assert undo.json() == {"at": wiped["at"], "changed_paths": 3}
        await a.wait_for(lambda: drawn(a) == {"scribble": BLUE})
        await b.wait_for(lambda: drawn(b) == {"scribble": BLUE})
        again = restore(server, alice, wiped["at"])
        assert again.json()["changed_paths"] == 0


async def test_a_restore_before_the_first_point_is_409_and_a_bad_body_422(server):
    alice = create_room(server)
    response = restore(server, alice, "2001-01-01T00:00:00Z")
    assert response.status_code == 409 and "no history point" in response.json()["detail"]
    url = f"{server.base_url}/api/rooms/{alice.room_id}/restore"
    headers = {"Authorization": f"Bearer {alice.token}"}
    for body in ({"at": "yesterday"}, {}, {"when": "2030-01-01"}):
        assert httpx.post(url, json=body, headers=headers).status_code == 422
    assert httpx.post(url, content=b"not json", headers=headers).status_code == 422


async def test_newer_strokes_drawn_during_a_restore_win_by_last_write(server):
    alice = create_room(server, "Alice")
    bob = join_room(server, alice.room_id, "Bob")
    async with BoardClient(alice.ws_url, alice.token) as a, \
            BoardClient(bob.ws_url, bob.token) as b:
        await a.synced.wait()
        await b.synced.wait()
        await a.draw("kept", stroke(1, RED))
        point = (await wait_points(server, alice, 2))[0]
        await b.erase("kept")
        await b.draw("busy", stroke(0, BLUE))

        async def draw_meanwhile() -> None:
            for i in range(20):
                await b.draw(f"busy{i}", stroke(i, BLUE))
                await anyio.sleep(0.01)

        async with anyio.create_task_group() as tg:
            tg.start_soon(draw_meanwhile)
            response = await anyio.to_thread.run_sync(restore, server, alice, point["at"])
        assert response.status_code == 200
        # Drawn after the restore: newer versions than its own, so they win.
        after = time.time() * 1000 + 1
        await b.draw("kept", stroke(9, GREEN), ts=after)
        await b.draw("late", stroke(10, GREEN), ts=after)
        def settled(client: BoardClient) -> bool:
            board = drawn(client)
            return board.get("kept") == GREEN and "late" in board

        await a.wait_for(lambda: settled(a))
        await b.wait_for(lambda: settled(b))
        await a.wait_for(lambda: a.board() == b.board())
        # The restore erased what the point did not have, whenever it was drawn before it.
        assert "busy" not in drawn(a)


async def test_a_room_whose_live_state_was_cleaned_up_is_restored(server_factory):
    server = server_factory(WHITEBOARD_ROOM_IDLE_S="1")
    alice = create_room(server)
    async with BoardClient(alice.ws_url, alice.token) as a:
        await a.synced.wait()
        await a.draw("one", stroke(1, RED))
        point = (await wait_points(server, alice, 2))[0]
        await a.erase("one")
        await wait_points(server, alice, 3)

    def cleaned_up() -> bool:
        text = httpx.get(f"{server.base_url}/metrics").text
        return "whiteboard_rooms_unloaded_total 1.0" in text

    with anyio.fail_after(15):
        while not cleaned_up():  # no event to wait on from outside: poll
            await anyio.sleep(0.1)
    response = restore(server, alice, point["at"])
    assert response.json() == {"at": point["at"], "changed_paths": 1}
    joiner = join_room(server, alice.room_id)
    async with BoardClient(joiner.ws_url, joiner.token) as j:
        await j.wait_for(lambda: drawn(j) == {"one": RED})
    points = await wait_points(server, alice, 4)
    assert points[0]["paths"] == 1
    # ... and it is cleaned up again, as usual.
    with anyio.fail_after(15):
        while "whiteboard_rooms_unloaded_total 2.0" not in httpx.get(
            f"{server.base_url}/metrics"
        ).text:
            await anyio.sleep(0.1)
    assert history(server, alice) == points
