"""SVG import at room creation and export at any time, over HTTP and the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from defusedxml import ElementTree

from crdt.paths import paths_map
from crdt.svg import import_svg
from tests.support.client import BoardClient
from tests.support.metrics import metrics
from tests.support.servers import create_room, join_room
from tests.support.waiting import until

pytestmark = pytest.mark.anyio

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "svg"
SVG_NS = "{http://www.w3.org/2000/svg}"
TWO_STROKES = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">'
    '<path d="M 10 10 L 90 90" stroke="#ff0000" stroke-width="3" fill="none"/>'
    '<circle cx="50" cy="50" r="20" stroke="blue" fill="none"/>'
    "<text x='1' y='1'>hello</text></svg>"
)


def create_with_svg(server, svg: str, *, multipart: bool = False) -> httpx.Response:
    url = f"{server.base_url}/api/rooms"
    if multipart:
        return httpx.post(url, data={"name": "Importer"},
                          files={"svg": ("board.svg", svg.encode(), "image/svg+xml")})
    return httpx.post(url, json={"name": "Importer", "svg": svg})


@pytest.mark.parametrize("multipart", [False, True], ids=["json", "multipart"])
async def test_an_imported_svg_is_what_a_connecting_client_sees(server, multipart):
    response = create_with_svg(server, TWO_STROKES, multipart=multipart)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["imported_paths"] == 2
    assert body["skipped_elements"] == 1
    async with BoardClient(body["ws_url"], body["token"]) as client:
        await client.wait_for(lambda: len(client.board()) == 2)
        colors = sorted(entry.color for entry in client.board().values())
        assert colors == ["#0000ff", "#ff0000"]


def test_an_svg_over_the_size_limit_is_413(server_factory):
    small = server_factory(WHITEBOARD_MAX_SVG_BYTES="1000")
    big = TWO_STROKES.replace("<text", "<!--" + "x" * 2000 + "--><text")
    for multipart in (False, True):
        response = create_with_svg(small, big, multipart=multipart)
        assert response.status_code == 413
        assert "1000" in response.json()["detail"]


@pytest.mark.parametrize(
    ("svg", "reason"),
    [
        ("not xml at all", "XML"),
        ('<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>', "svg"),
        ('<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
         '<svg xmlns="http://www.w3.org/2000/svg"><text>&b;</text></svg>', ""),
        ('<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
         '<svg xmlns="http://www.w3.org/2000/svg"><text>&x;</text></svg>', ""),
    ],
    ids=["not-xml", "not-svg", "entities", "xxe"],
)
def test_an_svg_that_cannot_be_read_is_400_and_creates_nothing(server, svg, reason):
    response = create_with_svg(server, svg)
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail.startswith("the SVG cannot be read")
    assert reason.lower() in detail.lower()


def export(server, room_id: str, token: str, *, in_query: bool = False) -> httpx.Response:
    url = f"{server.base_url}/api/rooms/{room_id}/svg"
    if in_query:
        return httpx.get(url, params={"token": token})
    return httpx.get(url, headers={"Authorization": f"Bearer {token}"})


async def test_export_draws_the_winning_versions_and_no_tombstones(server):
    room = create_room(server)
    async with BoardClient(room.ws_url, room.token) as client:
        await client.synced.wait()
        await client.draw("keep", {"d": "M 0 0 L 10 10", "color": "#112233", "width": 4})
        await client.draw("gone", {"d": "M 5 5 L 6 6", "color": "#445566", "width": 1})
        await client.erase("gone")
        await client.draw("keep", {"d": "M 0 0 L 20 20", "color": "#abcdef", "width": 2})
        await client.wait_for_echo()  # the server has merged all four changes
    for in_query in (False, True):
        response = export(server, room.room_id, room.token, in_query=in_query)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("image/svg+xml")
        assert response.headers["content-disposition"] == (
            f'attachment; filename="whiteboard-{room.room_id}.svg"'
        )
        drawn = ElementTree.fromstring(response.content).iter(f"{SVG_NS}path")
        assert [(p.get("d"), p.get("stroke")) for p in drawn] == [("M 0 0 L 20 20", "#abcdef")]


def test_export_needs_the_rooms_token(server):
    room = create_room(server)
    other = create_room(server)
    assert export(server, room.room_id, "nonsense").status_code == 401
    assert httpx.get(f"{server.base_url}/api/rooms/{room.room_id}/svg").status_code == 401
    assert export(server, room.room_id, other.token).status_code == 403


async def test_export_works_after_the_live_state_was_cleaned_up_and_via_the_cli(server_factory):
    server = server_factory(WHITEBOARD_ROOM_IDLE_S="1")
    room = create_room(server)
    async with BoardClient(room.ws_url, room.token) as client:
        await client.synced.wait()
        await client.draw("k1", {"d": "M 1 1 L 2 2", "color": "#000000", "width": 1})
        await client.wait_for_echo()  # merged and in the log
    await until(lambda: metrics(server).get("whiteboard_rooms_unloaded_total") == 1.0,
                timeout=15, what="the room's live state is cleaned up")
    response = export(server, room.room_id, room.token)
    assert response.status_code == 200 and b"M 1 1 L 2 2" in response.content
    out = server.data_dir / "cli-export.svg"
    cli = subprocess.run(
        [sys.executable, "-m", "server.cli", "export", room.room_id, "-o", str(out)],
        cwd=server.data_dir, env={**server.env_for_cli()}, capture_output=True, text=True,
    )
    assert cli.returncode == 0, cli.stderr
    assert "M 1 1 L 2 2" in out.read_text()
    missing = subprocess.run(
        [sys.executable, "-m", "server.cli", "export", "00000000-0000-4000-8000-000000000000"],
        cwd=server.data_dir, env={**server.env_for_cli()}, capture_output=True, text=True,
    )
    assert missing.returncode != 0 and "no room" in missing.stderr


async def test_an_export_imports_back_into_a_new_room_with_the_same_paths(server):
    source = (FIXTURES / "excalidraw-random.svg").read_text()
    first = create_with_svg(server, source).json()
    exported = export(server, first["room_id"], first["token"]).text
    second = create_with_svg(server, exported).json()
    assert second["imported_paths"] == first["imported_paths"] > 0
    joined = [join_room(server, r["room_id"], "Viewer") for r in (first, second)]
    boards = []
    for j in joined:
        async with BoardClient(j.ws_url, j.token) as client:
            await client.wait_for(lambda c=client: len(c.board()) == first["imported_paths"])
            boards.append(sorted((e.d, e.color, e.width) for e in client.board().values()))
    assert boards[0] == boards[1]


async def test_an_svg_path_over_max_path_data_is_split_or_skipped_and_counted(server_factory):
    server = server_factory(WHITEBOARD_MAX_PATH_DATA="1000")
    squares = " ".join(f"m {i % 7 + 3} 2 l 5 0 l 0 5 z" for i in range(120))
    zigzag = " ".join(f"{i} {i % 2 * 10}" for i in range(300))
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">'
        f'<path d="{squares}" stroke="#ff0000" fill="none"/>'
        f'<polyline points="{zigzag}" stroke="#00ff00" fill="none"/>'
        '<line x2="5" stroke="#0000ff"/></svg>'
    )
    [whole, _, line] = import_svg(svg, max_bytes=1 << 20).paths
    assert len(whole["d"]) > 2000
    response = create_with_svg(server, svg)
    assert response.status_code == 201, response.text
    body = response.json()
    # The squares come as several strokes (one element split), the zigzag is left out.
    assert body["skipped_elements"] == 2
    assert body["imported_paths"] > 3
    async with BoardClient(body["ws_url"], body["token"]) as client:
        await client.wait_for(lambda: len(client.board()) == body["imported_paths"])
        strokes = sorted(client.board().values(), key=lambda e: (e.color, e.d))
        assert all(len(e.d) <= 1000 for e in strokes)
        assert [e.d for e in strokes if e.color == "#0000ff"] == [line["d"]]
        pieces = {e.d for e in strokes if e.color == "#ff0000"}
        # Together the pieces draw the same subpaths, each opened by an absolute moveto.
        assert set().union(*(subpaths(d) for d in pieces)) == subpaths(whole["d"])


def subpaths(d: str) -> set[str]:
    return {"M " + s.strip() for s in d.split("M ") if s.strip()}


async def test_a_higher_max_path_data_lets_import_keep_a_longer_path_whole(server_factory):
    server = server_factory(WHITEBOARD_MAX_PATH_DATA="400000")
    points = " ".join(f"{10000 + i} {i % 2}" for i in range(30_000))
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg">'
        f'<polyline points="{points}" stroke="#ff0000" fill="none"/></svg>'
    )
    [whole] = import_svg(svg, max_bytes=1 << 20, max_path_data=400_000).paths
    assert 262_144 < len(whole["d"]) <= 400_000
    # About 240 KB: past the JSON body limit (MAX_JSON_BYTES), so sent as a file.
    response = create_with_svg(server, svg, multipart=True)
    assert response.status_code == 201, response.text
    assert (response.json()["imported_paths"], response.json()["skipped_elements"]) == (1, 0)
    body = response.json()
    async with BoardClient(body["ws_url"], body["token"]) as client:
        # Read raw: the client's own read_paths uses the default limit.
        await client.wait_for(lambda: len(paths_map(client.doc)) == 1)
        [register] = paths_map(client.doc).values()
        assert [version["d"] for version in register] == [whole["d"]]
