"""Several `whiteboard serve` processes share rooms through Redis and one database."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.support.client import BoardClient
from tests.support.databases import fresh_postgres_database
from tests.support.drawing import stroke
from tests.support.js_client import JsClient
from tests.support.servers import create_room, join_room
from tests.support.waiting import until

pytestmark = pytest.mark.anyio


def two_processes(server_factory, tmp_path, redis_env, database_url: str | None = None):
    url = database_url or f"sqlite:///{tmp_path / 'shared.db'}"
    env = {**redis_env, "WHITEBOARD_DATABASE_URL": url}
    return server_factory(**env), server_factory(**env)


def ws_url_on(server, room_id: str) -> str:
    return f"{server.ws_base}/{room_id}"


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
async def test_clients_on_two_processes_see_each_others_strokes(
    server_factory, tmp_path, redis_env, database
):
    if database == "postgresql":
        with fresh_postgres_database() as url:
            await _strokes_cross(*two_processes(server_factory, tmp_path, redis_env, url))
    else:
        await _strokes_cross(*two_processes(server_factory, tmp_path, redis_env))


async def _strokes_cross(a_server, b_server) -> None:
    alice = create_room(a_server, "Alice")
    bob = join_room(b_server, alice.room_id, "Bob")
    async with BoardClient(ws_url_on(a_server, alice.room_id), alice.token) as a, \
            BoardClient(ws_url_on(b_server, alice.room_id), bob.token) as b:
        await a.synced.wait()
        await b.synced.wait()
        await a.draw("from-a", stroke(1))
        await b.wait_for(lambda: "from-a" in b.board())
        await b.draw("from-b", stroke(2, "#e03131"))
        await a.wait_for(lambda: "from-b" in a.board())
        assert a.board() == b.board()
    a_server.stop()
    b_server.stop()


async def test_a_client_joining_on_b_sees_what_was_drawn_on_a(server_factory, tmp_path,
                                                               redis_env):
    a_server, b_server = two_processes(server_factory, tmp_path, redis_env)
    alice = create_room(a_server, "Alice")
    bob = join_room(b_server, alice.room_id, "Bob")
    async with BoardClient(ws_url_on(a_server, alice.room_id), alice.token) as a:
        await a.synced.wait()
        for i in range(10):
            await a.draw(f"s{i}", stroke(i))
        await a.wait_for(lambda: len(a.received) >= 3)
        async with BoardClient(ws_url_on(b_server, alice.room_id), bob.token) as b:
            await b.wait_for(lambda: len(b.board()) == 10)
            # B's room is live now: later strokes on A arrive through the relay.
            await a.draw("later", stroke(99))
            await b.wait_for(lambda: "later" in b.board())


async def test_last_write_wins_across_processes(server_factory, tmp_path, redis_env):
    a_server, b_server = two_processes(server_factory, tmp_path, redis_env)
    alice = create_room(a_server, "Alice")
    bob = join_room(b_server, alice.room_id, "Bob")
    async with BoardClient(ws_url_on(a_server, alice.room_id), alice.token) as a, \
            BoardClient(ws_url_on(b_server, alice.room_id), bob.token) as b:
        await a.synced.wait()
        await b.synced.wait()
        await a.draw("shared", stroke(0))
        await b.wait_for(lambda: "shared" in b.board())
        now = time.time() * 1000
        for i in range(10):
            # Interleaved concurrent versions; the greatest ts is B's at +19.
            await a.draw("shared", stroke(i, "#0000aa"), ts=now + 2 * i)
            await b.draw("shared", stroke(i, "#00aa00"), ts=now + 2 * i + 1)
        for client in (a, b):
            await client.wait_for(lambda c=client: c.board()["shared"].ts == now + 19)
        assert a.board() == b.board()
        assert a.board()["shared"].color == "#00aa00"


async def test_presence_on_either_process_lists_everyone(server_factory, tmp_path, redis_env):
    a_server, b_server = two_processes(server_factory, tmp_path, redis_env)
    alice = create_room(a_server, "Alice")
    bob = join_room(b_server, alice.room_id, "Bob")
    async with BoardClient(ws_url_on(a_server, alice.room_id), alice.token) as a, \
            BoardClient(ws_url_on(b_server, alice.room_id), bob.token) as b:
        await a.synced.wait()
        await b.synced.wait()
        await a.set_awareness({"user": {"name": "Alice"}, "cursor": {"x": 1, "y": 2}})
        await b.set_awareness({"user": {"name": "Bob"}, "cursor": {"x": 3, "y": 4}})
        # Cursors cross processes through the relay too.
        await a.wait_for(lambda: (a.awareness.get(b.doc.client_id) or {}).get("cursor"))
        assert a.awareness[b.doc.client_id]["user"]["name"] == "Bob"
        for server, token in ((a_server, alice.token), (b_server, bob.token)):
            def both_listed(server=server, token=token) -> bool:
                users = httpx.get(
                    f"{server.base_url}/api/rooms/{alice.room_id}/presence",
                    headers={"Authorization": f"Bearer {token}"},
                ).json()["users"]
                return sorted((u["name"], u["cursor"]["x"] if u["cursor"] else None)
                              for u in users) == [("Alice", 1), ("Bob", 3)]

            await until(both_listed, what=f"both members in {server.base_url}'s presence")
        room = httpx.get(f"{a_server.base_url}/api/rooms/{alice.room_id}",
                         headers={"Authorization": f"Bearer {alice.token}"}).json()
        assert room["active_users"] == 2


async def test_a_process_that_dies_leaves_presence_within_its_ttl(server_factory, tmp_path,
                                                                  redis_env):
    env = {**redis_env, "WHITEBOARD_PRESENCE_TTL_S": "2"}
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    a_server = server_factory(**env, WHITEBOARD_DATABASE_URL=url)
    b_server = server_factory(**env, WHITEBOARD_DATABASE_URL=url)
    alice = create_room(a_server, "Alice")
    bob = join_room(b_server, alice.room_id, "Bob")
    presence = f"{a_server.base_url}/api/rooms/{alice.room_id}/presence"
    headers = {"Authorization": f"Bearer {alice.token}"}

    def names():
        return sorted(u["name"] for u in httpx.get(presence, headers=headers).json()["users"])

    async with BoardClient(ws_url_on(a_server, alice.room_id), alice.token) as a, \
            BoardClient(ws_url_on(b_server, alice.room_id), bob.token) as b:
        await a.synced.wait()
        await b.synced.wait()
        await until(lambda: names() == ["Alice", "Bob"], what="both members present")
        b_server.kill9()
        # Bounded by the 2 s TTL; the deadline leaves room for a busy machine.
        await until(lambda: names() == ["Alice"], timeout=15, interval=0.1,
                    what="the dead process's member gone from presence")


async def test_a_js_client_on_a_and_a_python_client_on_b_converge(server_factory, tmp_path,
                                                                  redis_env):
    a_server, b_server = two_processes(server_factory, tmp_path, redis_env)
    alice = create_room(a_server, "Py")
    js = join_room(a_server, alice.room_id, "Js")
    async with BoardClient(ws_url_on(b_server, alice.room_id), alice.token) as py, \
            JsClient(a_server.ws_base, alice.room_id, js.token, "Js") as j:
        await py.synced.wait()
        await j.wait_event(lambda e: e.get("event") == "sync" and e["synced"])
        await j.command("draw", key="js-stroke", value=stroke(5))
        await py.draw("py-stroke", stroke(6))
        state = await j.wait_state(lambda s: {"js-stroke", "py-stroke"} <= set(s["paths"]))
        await py.wait_for(lambda: {"js-stroke", "py-stroke"} <= set(py.board()))
        assert {k: v["color"] for k, v in state["paths"].items()} == {
            k: v.color for k, v in py.board().items()
        }
