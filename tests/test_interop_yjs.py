"""Real Yjs clients (npm yjs + y-websocket) and a Python client in one room."""

from __future__ import annotations

import time

import pytest

from tests.support.client import BoardClient
from tests.support.drawing import stroke
from tests.support.js_client import JsClient
from tests.support.servers import create_room, join_room

pytestmark = pytest.mark.anyio


async def test_two_js_clients_and_a_python_client_converge(server):
    owner = create_room(server, "Py")
    js1 = join_room(server, owner.room_id, "Js One")
    js2 = join_room(server, owner.room_id, "Js Two")
    ws_base = f"ws://127.0.0.1:{server.port}/ws"
    async with (
        BoardClient(owner.ws_url, owner.token) as py,
        JsClient(ws_base, owner.room_id, js1.token, "Js One") as a,
        JsClient(ws_base, owner.room_id, js2.token, "Js Two") as b,
    ):
        await py.synced.wait()
        await a.wait_event(lambda e: e.get("event") == "sync" and e["synced"])
        await b.wait_event(lambda e: e.get("event") == "sync" and e["synced"])
        await a.command("draw", key="js-a", value=stroke(1))
        await b.command("draw", key="js-b", value=stroke(2, "#e03131"))
        await py.draw("py-c", stroke(3, "#2f9e44"))
        # Concurrent versions of one register from all three: the greatest ts wins.
        await a.wait_state(lambda s: "py-c" in s["paths"])
        now = time.time() * 1000
        await a.command("draw", key="py-c", value=stroke(4, "#000001"), ts=now + 1_000)
        await b.command("draw", key="py-c", value=stroke(5, "#000002"), ts=now + 3_000)
        await py.draw("py-c", stroke(6, "#000003"), ts=now + 2_000)

        def settled(state):
            return (
                set(state["paths"]) == {"js-a", "js-b", "py-c"}
                and state["paths"]["py-c"]["color"] == "#000002"
            )

        state_a = await a.wait_state(settled)
        state_b = await b.wait_state(settled)
        await py.wait_for(
            lambda: py.board().get("py-c") is not None and py.board()["py-c"].color == "#000002"
        )
        assert state_a["paths"] == state_b["paths"]
        assert {k: (v.d, v.color, v.width) for k, v in py.board().items()} == {
            k: (v["d"], v["color"], v["width"]) for k, v in state_a["paths"].items()
        }


async def test_js_awareness_is_seen_by_python_with_the_token_name(server):
    owner = create_room(server, "Py")
    js = join_room(server, owner.room_id, "Jay")
    ws_base = f"ws://127.0.0.1:{server.port}/ws"
    async with (
        BoardClient(owner.ws_url, owner.token) as py,
        JsClient(ws_base, owner.room_id, js.token, "Not Jay") as a,
    ):
        await py.synced.wait()
        await a.wait_event(lambda e: e.get("event") == "sync" and e["synced"])
        await a.command("cursor", cursor={"x": 12.5, "y": 7})
        js_id = (await a.command("state"))["clientId"]
        await py.wait_for(lambda: (py.awareness.get(js_id) or {}).get("cursor") is not None)
        assert py.awareness[js_id]["user"]["name"] == "Jay"
        assert py.awareness[js_id]["cursor"] == {"x": 12.5, "y": 7}
        # And the other way: Python's awareness reaches the JS client.
        await py.set_awareness({"user": {"name": "Py"}, "cursor": {"x": 1, "y": 2}})
        state = await a.wait_state(lambda s: str(py.doc.client_id) in s["awareness"])
        assert state["awareness"][str(py.doc.client_id)]["cursor"] == {"x": 1, "y": 2}


async def test_a_js_client_with_a_bad_token_is_closed_with_4401(server):
    owner = create_room(server, "Py")
    ws_base = f"ws://127.0.0.1:{server.port}/ws"
    async with JsClient(ws_base, owner.room_id, "not-a-token", "X") as a:
        event = await a.wait_event(lambda e: e.get("event") == "close")
        assert event["code"] == 4401


async def test_stock_clients_joining_moving_cursors_and_leaving_in_turn_are_never_closed(server):
    # Stock providers re-send every awareness state they hear, others' included; the
    # server's limit on client ids a connection may introduce must never catch them.
    owner = create_room(server, "Py")
    ws_base = f"ws://127.0.0.1:{server.port}/ws"
    names = [f"Js {i}" for i in range(4)]
    tokens = [join_room(server, owner.room_id, name).token for name in names]
    clients = [JsClient(ws_base, owner.room_id, token, name) for token, name in zip(
        tokens, names, strict=True)]
    async with BoardClient(owner.ws_url, owner.token) as watcher:
        await watcher.synced.wait()
        for client in clients:
            await client.__aenter__()
        try:
            ids = []
            for client in clients:
                await client.wait_event(lambda e: e.get("event") == "sync" and e["synced"])
                ids.append((await client.command("state"))["clientId"])
            for step in range(3):
                for i, client in enumerate(clients):
                    await client.command("cursor", cursor={"x": step, "y": i})
                await watcher.wait_for(lambda s=step: all(
                    (watcher.awareness.get(cid) or {}).get("cursor") == {"x": s, "y": i}
                    for i, cid in enumerate(ids)))
            # They leave one by one (the last to come first: their task groups nest) while
            # the others keep moving.
            while clients:
                leaving, ids_left = clients.pop(), ids.pop()
                await leaving.__aexit__(None, None, None)
                await watcher.wait_for(lambda gone=ids_left: watcher.awareness.get(gone) is None)
                for i, client in enumerate(clients):
                    await client.command("cursor", cursor={"x": 9, "y": i})
                for client in clients:
                    assert not [e for e in client.events if e.get("event") == "close"], \
                        client.events
                    await client.wait_state(lambda s, gone=ids_left: str(gone) not in s[
                        "awareness"])
        finally:
            for client in reversed(clients):
                await client.__aexit__(None, None, None)
