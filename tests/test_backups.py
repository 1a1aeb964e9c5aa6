"""Backups every BACKUP_INTERVAL_S: consistent, checked, rotated, only when something changed,
within BACKUP_KEEP files and BACKUP_MAX_BYTES bytes, and never onto a disk they would fill."""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from persistence.backup import check_database, list_backups
from tests.support.client import BoardClient
from tests.support.commands import integrity, rows, whiteboard, whiteboard_env
from tests.support.databases import fresh_postgres_database
from tests.support.filesystems import resize, small_file_system
from tests.support.servers import create_room, join_room
from tests.support.waiting import until

pytestmark = pytest.mark.anyio

STROKE = {"d": "M 0 0 L 10 10", "color": "#112233", "width": 2}


def backups_logged(server) -> list[Path]:
    return [Path(m) for m in re.findall(r"backup written path='([^']+)'", server.log())]


async def settled(server) -> int:
    """Wait until a second passes without a new backup; the number written so far."""
    # Not a catch-up wait: "backups have stopped" is an absence, which no event announces
    # (the server writes for a while after a change: its snapshot, the member's leaving).
    with anyio.fail_after(20):
        while True:
            before = len(backups_logged(server))
            await anyio.sleep(1.0)
            if len(backups_logged(server)) == before:
                return before


async def draw_until_backups(server, count: int) -> None:
    """Draw a stroke per backup interval until `count` backups were written, then settle."""
    room = create_room(server, "Alice")
    async with BoardClient(room.ws_url, room.token) as a:
        await a.synced.wait()
        i = 0
        while (written := len(backups_logged(server))) < count:
            await a.draw(f"s{i}", STROKE)  # a change, then its backup: a backup each
            i += 1
            await until(lambda written=written: len(backups_logged(server)) > written,
                        timeout=15, what="a backup of the new change")
    await settled(server)


def backup_server(server_factory, folder: Path, **env: str):
    return server_factory(
        folder,
        WHITEBOARD_BACKUP_INTERVAL_S="0.3",
        WHITEBOARD_BACKUP_DIR=str(folder / "backups"),
        **env,
    )


async def test_backups_appear_rotate_to_keep_and_pass_the_integrity_check(
    server_factory, tmp_path
):
    server = backup_server(server_factory, tmp_path / "a", WHITEBOARD_BACKUP_KEEP="3")
    await draw_until_backups(server, 6)
    kept = list_backups(tmp_path / "a" / "backups")
    assert kept == backups_logged(server)[-3:]  # the newest three, oldest first
    for path in kept:
        assert integrity(path) == "ok"
        check_database(path)
        assert rows(path, "select count(*) from room")[0][0] == 1
    # Nothing half-written is left next to them.
    assert sorted((tmp_path / "a" / "backups").iterdir()) == kept


async def test_no_backup_is_taken_while_nothing_changes(server_factory, tmp_path):
    server = backup_server(server_factory, tmp_path / "a")
    room = create_room(server, "Alice")
    async with BoardClient(room.ws_url, room.token) as a:
        await a.synced.wait()
        await a.draw("one", STROKE)
        await a.wait_for_echo()
    # The stroke, its snapshot and the disconnect are all backed up, then all is quiet.
    before = await settled(server)
    # Not a catch-up wait: the time under test, more than six intervals with nothing to save.
    await anyio.sleep(2.0)
    assert len(backups_logged(server)) == before
    assert len(list_backups(tmp_path / "a" / "backups")) == before

    bob = join_room(server, room.room_id, "Bob")
    async with BoardClient(bob.ws_url, bob.token) as b:
        await b.synced.wait()
        await b.draw("two", STROKE)
        await until(lambda: len(backups_logged(server)) > before, timeout=15)


async def test_a_live_backup_restores_into_a_fresh_data_folder_with_every_path_intact(
    server_factory, tmp_path
):
    server = backup_server(server_factory, tmp_path / "a")
    room = create_room(server, "Alice")
    watcher = join_room(server, room.room_id, "Watcher")
    async with BoardClient(room.ws_url, room.token) as a, \
            BoardClient(watcher.ws_url, watcher.token) as w:
        await a.synced.wait()
        await w.synced.wait()
        for i in range(60):
            await a.draw(f"p{i}", {**STROKE, "d": f"M {i} 0 Q 5 5 {i} {i}", "width": 1 + i % 5})
        await a.draw("p7", {**STROKE, "color": "#ff0000"})
        await a.erase("p9")
        await w.wait_for(lambda: len(w.board()) == 60 and w.board()["p9"].deleted
                         and w.board()["p7"].color == "#ff0000")
        expected = w.board()
        # Everything above is committed (logged before it was relayed). A change is backed up
        # within the interval, so once backups stop coming the newest one holds it all.
        assert await settled(server) >= 1
        newest = backups_logged(server)[-1]
        # The server keeps running, and keeps writing, while the backup is restored.
        fresh = tmp_path / "fresh"
        fresh.mkdir()
        done = whiteboard("restore", str(newest), env=whiteboard_env(fresh / "whiteboard.db"))
        assert done.returncode == 0, done.stderr
        await a.draw("after-backup", STROKE)

    restored = server_factory(fresh)
    joined = join_room(restored, room.room_id, "Bob")
    async with BoardClient(joined.ws_url, joined.token) as b:
        await b.synced.wait()
        assert b.board() == expected


async def test_a_failed_backup_is_logged_and_retried_and_the_server_goes_on(
    server_factory, tmp_path
):
    folder = tmp_path / "a"
    folder.mkdir()
    blocker = folder / "backups"
    blocker.write_text("a file where the backup folder should be")
    server = backup_server(server_factory, folder)
    await until(lambda: "backup failed; will retry next interval" in server.log(), timeout=15)
    room = create_room(server, "Alice")  # the server is unaffected
    assert not backups_logged(server)

    blocker.unlink()
    await until(lambda: len(backups_logged(server)) == 1, timeout=15)
    assert rows(backups_logged(server)[0], "select id from room") == [(room.room_id,)]


def big_database(path: Path, megabytes: int) -> None:
    """A database with our schema and `megabytes` of update log (written directly, quickly)."""
    done = whiteboard("migrate", env=whiteboard_env(path))
    assert done.returncode == 0, done.stderr
    conn = sqlite3.connect(path)
    try:
        conn.execute("insert or ignore into room (id, created_at, last_activity_at, creator_ip, "
                     "active_users) values ('big', '2026-01-01', '2026-01-01', '', 0)")
        conn.execute(
            "with recursive n(i) as (select 1 union all select i + 1 from n where i < ?) "
            "insert into doc_update (room_id, data, created_at) "
            "select 'big', randomblob(65536), '2026-01-01' from n",
            (megabytes * 16,),
        )
        conn.commit()
    finally:
        conn.close()


def skipped_lines(server) -> list[str]:
    return [line for line in server.log().splitlines() if "backup skipped" in line]


def logged_bytes(line: str, name: str) -> int:
    found = re.search(rf"\b{name}=(\d+)", line)
    assert found, f"no {name} in {line!r}"
    return int(found[1])


def total_bytes(paths: list[Path]) -> int:
    return sum(p.stat().st_size for p in paths)


async def test_backups_are_pruned_oldest_first_to_stay_within_backup_max_bytes(
    server_factory, tmp_path
):
    folder = tmp_path / "a"
    folder.mkdir()
    big_database(folder / "whiteboard.db", 1)
    # Every backup is about the size of this database: room for three of them, not four.
    limit = (folder / "whiteboard.db").stat().st_size * 7 // 2
    server = backup_server(server_factory, folder, WHITEBOARD_BACKUP_MAX_BYTES=str(limit))
    await draw_until_backups(server, 6)
    kept = list_backups(folder / "backups")
    assert kept == backups_logged(server)[-3:]  # the newest three, oldest first
    assert total_bytes(kept) <= limit
    for path in kept:
        assert integrity(path) == "ok"


def test_whiteboard_backup_prunes_the_oldest_to_stay_within_backup_max_bytes(tmp_path):
    db = tmp_path / "whiteboard.db"
    big_database(db, 1)
    limit = db.stat().st_size * 7 // 2
    env = whiteboard_env(db, WHITEBOARD_BACKUP_MAX_BYTES=str(limit))
    written = []
    for _ in range(5):
        done = whiteboard("backup", env=env)
        assert done.returncode == 0, done.stderr
        written.append(Path(done.stdout.strip()))
    kept = list_backups(tmp_path / "backups")
    assert kept == written[-3:]
    assert total_bytes(kept) <= limit


async def test_a_database_larger_than_backup_max_bytes_is_not_backed_up_and_older_backups_stay(
    server_factory, tmp_path
):
    folder = tmp_path / "a"
    folder.mkdir()
    db = folder / "whiteboard.db"
    big_database(db, 1)
    limit = db.stat().st_size * 5 // 2
    server = backup_server(server_factory, folder, WHITEBOARD_BACKUP_MAX_BYTES=str(limit))
    await until(lambda: len(backups_logged(server)) >= 1, timeout=15)  # the first interval backs up
    await settled(server)
    earlier = list_backups(folder / "backups")
    assert earlier

    big_database(db, 3)  # now past the bound: no backup of it could be kept
    # and it is retried every interval
    await until(lambda: len(skipped_lines(server)) >= 3, timeout=15)
    line = skipped_lines(server)[0]
    assert "WARNING" in line and "the database is larger than WHITEBOARD_BACKUP_MAX_BYTES" in line
    assert logged_bytes(line, "max_bytes") == limit < logged_bytes(line, "copy_bytes")
    assert list_backups(folder / "backups") == earlier  # nothing pruned to make room
    for path in earlier:
        assert integrity(path) == "ok"

    done = whiteboard("backup", env=server.env_for_cli())
    assert done.returncode == 1
    assert done.stderr.splitlines() == [done.stderr.strip()]
    assert done.stderr.startswith("whiteboard backup: backup skipped: the database is larger")
    assert list_backups(folder / "backups") == earlier


async def test_no_backup_starts_on_a_disk_with_less_free_space_than_the_database_until_it_has(
    server_factory, tmp_path
):
    folder = tmp_path / "a"
    folder.mkdir()
    db = folder / "whiteboard.db"
    big_database(db, 4)
    with small_file_system(tmp_path / "small", megabytes=2) as small:
        done = whiteboard("backup", env=whiteboard_env(db, WHITEBOARD_BACKUP_DIR=str(small)))
        assert done.returncode == 1
        assert done.stderr.splitlines() == [done.stderr.strip()]
        assert done.stderr.startswith(
            f"whiteboard backup: backup skipped: not enough free space in {small}"
        )

        server = server_factory(
            folder, WHITEBOARD_BACKUP_INTERVAL_S="0.3", WHITEBOARD_BACKUP_DIR=str(small)
        )
        await until(lambda: len(skipped_lines(server)) >= 2, timeout=15)  # retried every interval
        line = skipped_lines(server)[0]
        assert "WARNING" in line and "not enough free space" in line
        assert logged_bytes(line, "free_bytes") < logged_bytes(line, "needed_bytes")
        assert logged_bytes(line, "needed_bytes") >= db.stat().st_size
        assert list(small.iterdir()) == []  # not even a partial copy was started

        resize(small, megabytes=64)  # the operator makes room
        await until(lambda: len(backups_logged(server)) == 1, timeout=15)
        assert list_backups(small) == backups_logged(server)
        assert integrity(backups_logged(server)[0]) == "ok"
        server.stop()


def test_kill_9_in_the_middle_of_a_backup_leaves_every_earlier_backup_usable(tmp_path):
    db = tmp_path / "whiteboard.db"
    env = whiteboard_env(db)
    backups = tmp_path / "backups"
    big_database(db, 4)
    for _ in range(2):
        assert whiteboard("backup", env=env).returncode == 0
    earlier = list_backups(backups)
    assert len(earlier) == 2
    big_database(db, 200)

    target = backups / "interrupted.db"
    proc = subprocess.Popen([sys.executable, "-m", "server.cli", "backup", str(target)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stderr.readline()  # the first progress line: the copy is under way
        assert first.startswith("backing up: ") and "100%" not in first, first
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()

    assert not target.exists()
    leftovers = [p for p in backups.iterdir() if p.name.startswith(".interrupted.db.tmp-")]
    assert leftovers, "the backup was not interrupted mid-way"
    for path in earlier:
        assert integrity(path) == "ok"
        check_database(path)
    # The next backup succeeds and clears what the killed one left behind.
    done = whiteboard("backup", env=env)
    assert done.returncode == 0, done.stderr
    assert sorted(backups.iterdir()) == list_backups(backups)
    assert len(list_backups(backups)) == 3


def test_a_server_on_postgresql_leaves_backups_to_pg_dump(server_factory, tmp_path):
    with fresh_postgres_database() as url:
        server = backup_server(server_factory, tmp_path / "pg", WHITEBOARD_DATABASE_URL=url)
        create_room(server, "Alice")
        server.stop()
    lines = [line for line in server.log().splitlines() if "pg_dump" in line]
    assert len(lines) == 1 and "backups are not taken by the server" in lines[0]
    assert not (tmp_path / "pg" / "backups").exists()
