"""History across a restart, and with two server processes sharing rooms through Redis."""

from __future__ import annotations

import anyio
import pytest

from tests.support.client import BoardClient
from tests.support.databases import fresh_postgres_database
from tests.support.drawing import stroke
from tests.support.history_calls import history, restore, svg_at, wait_points
from tests.support.servers import create_room, join_room

pytestmark = pytest.mark.anyio

RED, GREEN = "#e03131", "#2f9e44"



def drawn(client: BoardClient) -> dict[str, str | None]:
    return {k: e.color for k, e in client.board().items() if not e.deleted}


async def test_history_survives_a_restart_and_restores_after_it(server_factory):
    server = server_factory()
    alice = create_room(server)
    async with BoardClient(alice.ws_url, alice.token) as a:
        await a.synced.wait()
        await a.draw("red", stroke(1, RED))
        old = (await wait_points(server, alice, 2))[0]
        await a.erase("red")
        points = await wait_points(server, alice, 3)
    server.stop()
    server.start()
    assert history(server, alice) == points
    assert RED in svg_at(server, alice, old["at"]).text
    assert restore(server, alice, old["at"]).json()["changed_paths"] == 1
    async with BoardClient(alice.ws_url, alice.token) as a:
        await a.wait_for(lambda: drawn(a) == {"red": RED})


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
async def test_a_restore_on_one_process_reaches_clients_of_the_other(
    server_factory, tmp_path, redis_env, database
):
    if database == "postgresql":
        with fresh_postgres_database() as url:
            await _restore_across(server_factory, redis_env, url)
    else:
        await _restore_across(server_factory, redis_env, f"sqlite:///{tmp_path / 'shared.db'}")


async def _restore_across(server_factory, redis_env, url: str) -> None:
    env = {**redis_env, "WHITEBOARD_DATABASE_URL": url}
    a_server, b_server = server_factory(**env), server_factory(**env)
    alice = create_room(a_server, "Alice")
    bob = join_room(b_server, alice.room_id, "Bob")
    async with BoardClient(f"{a_server.ws_base}/{alice.room_id}", alice.token) as a, \
            BoardClient(f"{b_server.ws_base}/{alice.room_id}", bob.token) as b:
        await a.synced.wait()
        await b.synced.wait()
        await a.draw("red", stroke(1, RED))
        await b.wait_for(lambda: "red" in drawn(b))
        old = (await wait_points(b_server, bob, 2))[0]  # one history, whoever asks
        await b.erase("red")
        await b.draw("green", stroke(2, GREEN))
        await a.wait_for(lambda: drawn(a) == {"green": GREEN})
        # Both processes snapshot the room: the points agree whichever made them.
        with_green = await _wait_newest(a_server, alice, paths=1, color=GREEN)
        assert history(b_server, bob)[0] == with_green
        response = restore(b_server, bob, old["at"])
        assert response.json() == {"at": old["at"], "changed_paths": 2}
        await a.wait_for(lambda: drawn(a) == {"red": RED})
        await b.wait_for(lambda: drawn(b) == {"red": RED})
        # Undo from the other process.
        assert restore(a_server, alice, with_green["at"]).json()["changed_paths"] == 2
        await b.wait_for(lambda: drawn(b) == {"green": GREEN})
        await a.wait_for(lambda: drawn(a) == {"green": GREEN})


async def _wait_newest(server, joined, *, paths: int, color: str) -> dict:
    with anyio.fail_after(10):
        while True:  # poll: snapshots are not announced
            newest = history(server, joined)[0]
            if newest["paths"] == paths and color in svg_at(server, joined, newest["at"]).text:
                return newest
            await anyio.sleep(0.1)
