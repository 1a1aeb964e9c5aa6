"""`whiteboard backup` and `whiteboard restore` as an operator runs them."""

from __future__ import annotations

import fcntl
import shutil
import signal
import sqlite3
from pathlib import Path

import httpx
import pytest

from persistence.backup import list_backups, lock_path
from tests.support.client import BoardClient
from tests.support.commands import integrity, rows, whiteboard, whiteboard_env
from tests.support.servers import create_room, join_room

STROKE = {"d": "M 0 0 L 10 10", "color": "#112233", "width": 2}


def reason(done) -> str:
    """The one-line reason a command failed with (after any progress lines)."""
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    return done.stderr.strip().splitlines()[-1]


def small_database(db: Path) -> dict[str, str]:
    env = whiteboard_env(db)
    assert whiteboard("migrate", env=env).returncode == 0
    conn = sqlite3.connect(db)
    try:
        conn.execute("insert into room (id, created_at, last_activity_at, creator_ip, "
                     "active_users) values ('r1', '2026-01-01', '2026-01-01', '', 0)")
        conn.commit()
    finally:
        conn.close()
    return env


def a_backup(env: dict[str, str]) -> Path:
    done = whiteboard("backup", env=env)
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip())


def corrupt(source: Path, target: Path) -> None:
    """A copy whose `room` table page is overwritten: SQLite opens it, the check does not pass."""
    conn = sqlite3.connect(source)
    try:
        root = conn.execute("select rootpage from sqlite_master where name = 'room'").fetchone()[0]
    finally:
        conn.close()
    data = bytearray(source.read_bytes())
    start = (root - 1) * 4096
    data[start + 8 : start + 4096] = b"\xa5" * (4096 - 8)
    target.write_bytes(bytes(data))


@pytest.mark.parametrize("kind", ["garbage", "truncated", "corrupt page", "foreign database",
                                  "newer schema"])
def test_restore_refuses_a_file_that_is_not_a_sound_whiteboard_backup(tmp_path, kind):
    db = tmp_path / "whiteboard.db"
    env = small_database(db)
    good = a_backup(env)
    bad = tmp_path / "bad.db"
    if kind == "garbage":
        bad.write_bytes(b"this is not a database\n" * 100)
    elif kind == "truncated":
        bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif kind == "corrupt page":
        corrupt(good, bad)
    elif kind == "foreign database":
        conn = sqlite3.connect(bad)
        conn.execute("create table notes (body text)")
        conn.commit()
        conn.close()
    else:
        shutil.copy(good, bad)
        conn = sqlite3.connect(bad)
        conn.execute("update alembic_version set version_num = 'fffffffffff'")
        conn.commit()
        conn.close()
    before = db.read_bytes()

    line = reason(whiteboard("restore", str(bad), env=env))

    assert line.startswith("whiteboard restore: ") and str(bad) in line
    expected = {"garbage": "not an SQLite database", "truncated": "damaged",
                "corrupt page": "integrity check", "foreign database": "not a whiteboard database",
                "newer schema": "does not know"}[kind]
    assert expected in line
    assert db.read_bytes() == before
    assert not list(tmp_path.glob("whiteboard.db.replaced-*"))


def test_restore_refuses_a_database_in_use_by_a_running_server(server_factory, tmp_path):
    server = server_factory(tmp_path / "live")
    db = server.data_dir / "whiteboard.db"
    env = whiteboard_env(db)
    room = create_room(server, "Alice")
    backup = a_backup(env)  # a backup is fine while the server runs

    line = reason(whiteboard("restore", str(backup), env=env))

    assert "in use by a running server" in line
    assert not list(server.data_dir.glob("whiteboard.db.replaced-*"))
    assert join_room(server, room.room_id, "Bob")  # the server goes on with its database
    assert integrity(db) == "ok"


def test_nothing_opens_the_database_while_a_restore_holds_it(tmp_path):
    db = tmp_path / "whiteboard.db"
    env = small_database(db)
    with open(lock_path(db), "ab") as held:  # what `whiteboard restore` holds while it works
        fcntl.flock(held, fcntl.LOCK_EX)
        for command in (["serve", "--port", "1"], ["backup"], ["migrate"]):
            line = reason(whiteboard(*command, env=env))
            assert line == f"whiteboard {command[0]}: {db} is being restored; try again when " \
                           "that is done"


@pytest.mark.anyio
async def test_restore_keeps_the_replaced_database_aside_with_what_its_wal_held(
    server_factory, tmp_path
):
    server = server_factory(tmp_path / "a", WHITEBOARD_SNAPSHOT_INTERVAL_S="3600")
    db = server.data_dir / "whiteboard.db"
    env = whiteboard_env(db)
    before = create_room(server, "Alice")
    backup = a_backup(env)
    after = create_room(server, "Carol")
    async with BoardClient(after.ws_url, after.token) as c:
        await c.synced.wait()
        for i in range(20):
            await c.draw(f"late{i}", STROKE)
        watcher = join_room(server, after.room_id, "Watcher")
        async with BoardClient(watcher.ws_url, watcher.token) as w:
            await w.wait_for(lambda: len(w.board()) == 20)
    server.stop(signal.SIGKILL)  # its last transactions live only in whiteboard.db-wal
    assert (server.data_dir / "whiteboard.db-wal").exists()

    done = whiteboard("restore", str(backup), env=env)

    assert done.returncode == 0, done.stderr
    assert "restoring: 100%" in done.stderr
    (aside,) = server.data_dir.glob("whiteboard.db.replaced-*[0-9TZ]")
    assert str(aside) in done.stdout
    assert not (server.data_dir / "whiteboard.db-wal").exists()
    assert not (server.data_dir / "whiteboard.db-shm").exists()
    # Kept aside whole: the room made after the backup, with its strokes from the WAL.
    assert integrity(aside) == "ok"
    assert rows(aside, f"select count(*) from room where id = '{after.room_id}'") == [(1,)]
    assert rows(aside, f"select count(*) from doc_update where room_id = '{after.room_id}'")[0][0]

    server.start()
    assert join_room(server, before.room_id, "Bob")
    response = httpx.post(f"{server.base_url}/api/rooms/{after.room_id}/join", json={"name": "D"})
    assert response.status_code == 404  # the restored database is from before that room


def test_backup_writes_the_path_it_is_given_and_never_overwrites(tmp_path):
    db = tmp_path / "whiteboard.db"
    env = small_database(db)
    target = tmp_path / "copies" / "monday.db"

    done = whiteboard("backup", str(target), env=env)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(target)
    assert integrity(target) == "ok" and rows(target, "select id from room") == [("r1",)]
    assert "already exists" in reason(whiteboard("backup", str(target), env=env))
    assert "the database itself" in reason(whiteboard("backup", str(db), env=env))
    # A folder gets a timestamped file; the default is the backup folder.
    done = whiteboard("backup", str(tmp_path / "copies"), env=env)
    assert done.returncode == 0 and Path(done.stdout.strip()).parent == tmp_path / "copies"
    assert len(list_backups(tmp_path / "copies")) == 1
    assert a_backup(env).parent == tmp_path / "backups"


@pytest.mark.parametrize("command", [["backup"], ["restore", "some.db"]])
def test_backup_and_restore_point_to_pg_dump_for_postgresql(tmp_path, command):
    env = whiteboard_env(tmp_path / "unused.db",
                         WHITEBOARD_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")
    line = reason(whiteboard(*command, env=env))
    assert line.startswith(f"whiteboard {command[0]}: ") and "for SQLite" in line
    assert "pg_dump" in line


@pytest.mark.parametrize("command", [[], ["serve"], ["migrate"], ["backup"], ["restore"],
                                     ["export"]])
def test_every_command_explains_itself_with_help(tmp_path, command):
    done = whiteboard(*command, "--help", env=whiteboard_env(tmp_path / "whiteboard.db"))
    assert done.returncode == 0
    assert done.stdout.startswith("usage: whiteboard")
    if not command:
        for name in ("serve", "migrate", "backup", "restore", "export"):
            assert name in done.stdout
