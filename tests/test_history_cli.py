"""`whiteboard history` and `whiteboard export --at`; history across `backup` and `restore`."""

from __future__ import annotations

import pytest

from tests.support.client import BoardClient
from tests.support.commands import whiteboard
from tests.support.drawing import stroke
from tests.support.history_calls import history, svg_at, wait_points
from tests.support.servers import create_room

pytestmark = pytest.mark.anyio

RED, GREEN = "#e03131", "#2f9e44"



async def test_the_cli_lists_points_and_exports_the_board_at_one(server_factory, tmp_path):
    server = server_factory()
    alice = create_room(server)
    async with BoardClient(alice.ws_url, alice.token) as a:
        await a.synced.wait()
        await a.draw("red", stroke(1, RED))
        first = (await wait_points(server, alice, 2))[0]
        await a.erase("red")
        await a.draw("green", stroke(2, GREEN))
        points = await wait_points(server, alice, 3)
    env = server.env_for_cli()
    listed = whiteboard("history", alice.room_id, env=env)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == [f"{p['at']}  {p['paths']} paths" for p in points]
    exported = whiteboard("export", alice.room_id, "--at", first["at"], env=env)
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout == svg_at(server, alice, first["at"]).text
    assert RED in exported.stdout and GREEN not in exported.stdout
    out = tmp_path / "then.svg"
    assert whiteboard("export", alice.room_id, "--at", first["at"], "-o", str(out),
                      env=env).returncode == 0
    assert out.read_text() == exported.stdout
    now = whiteboard("export", alice.room_id, env=env)  # without --at: the board now
    assert GREEN in now.stdout and RED not in now.stdout
    unknown = whiteboard("history", "00000000-0000-4000-8000-000000000000", env=env)
    assert unknown.returncode == 1 and "no room" in unknown.stderr
    bad = whiteboard("export", alice.room_id, "--at", "yesterday", env=env)
    assert bad.returncode == 2 and "ISO 8601" in bad.stderr


async def test_history_is_in_every_backup_and_comes_back_with_a_restore(server_factory):
    server = server_factory()
    alice = create_room(server)
    async with BoardClient(alice.ws_url, alice.token) as a:
        await a.synced.wait()
        await a.draw("red", stroke(1, RED))
        backed_up = await wait_points(server, alice, 2)
        backup = whiteboard("backup", env=server.env_for_cli())
        assert backup.returncode == 0, backup.stderr
        await a.draw("green", stroke(2, GREEN))
        await wait_points(server, alice, 3)
    server.stop()
    restored = whiteboard("restore", backup.stdout.strip(), env=server.env_for_cli())
    assert restored.returncode == 0, restored.stderr
    server.start()
    assert history(server, alice) == backed_up
    assert RED in svg_at(server, alice, backed_up[0]["at"]).text
