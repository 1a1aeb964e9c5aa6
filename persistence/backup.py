"""Consistent online backups of the SQLite database: take, check, rotate, restore.

Pure functions on files (no server, no event loop): the server's loop and the CLI call them
in a worker thread. PostgreSQL is not handled here; pg_dump and base backups are its tools.

A backup is written under a temporary name in its own folder, checked with
`PRAGMA integrity_check`, and only then given its final name: a crash at any moment leaves
either no file with that name or a whole, checked one.

Backups are bounded in number and in bytes (`prune`), and one is not started where it would
not fit (`backup_sqlite` with `max_bytes`): the database grows with whatever anyone draws,
so its backups must never be what fills the disk.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from persistence.migrate import known_revisions

# The tables a whiteboard database has (persistence/models.py, plus Alembic's version row).
REQUIRED_TABLES = ("room", "path", "user_session", "doc_update", "doc_snapshot", "alembic_version")
BACKUP_NAME = re.compile(r"^whiteboard-\d{8}T\d{12}Z(-\d+)?\.db$")
TEMP_NAME = re.compile(r"^\..+\.(tmp|restore)-(?P<pid>\d+)-[0-9a-f]{8}(-journal)?$")
PROGRESS_EVERY_S = 0.1

Progress = Callable[[int, int], None]  # (bytes written, bytes expected)


class BackupError(Exception):
    """An expected failure, with a one-line reason fit for an operator."""


class DatabaseInUse(BackupError):
    """A server (or another restore) holds the database."""


# What the offline commands report as one line for the operator, rather than a traceback.
REPORTABLE_ERRORS: tuple[type[Exception], ...] = (BackupError, OSError, sqlite3.Error)


class BackupSkipped(BackupError):
    """A backup not taken because it would not fit; nothing of it is left."""

    def __init__(self, reason: str, **sizes: int) -> None:
        self.reason = reason
        self.sizes = sizes  # the byte counts behind the decision, named `<what>_bytes`
        shown = ", ".join(
            f"{name.removesuffix('_bytes').replace('_', ' ')} {value / 1e6:.1f} MB"
            for name, value in sizes.items()
        )
        super().__init__(f"backup skipped: {reason} ({shown})")


@dataclass(frozen=True, slots=True)
class BackupInfo:
    path: Path
    bytes: int
    seconds: float


@dataclass(frozen=True, slots=True)
class RestoreInfo:
    database: Path
    replaced: Path | None  # where the previous database was kept, if there was one
    bytes: int
    seconds: float


def backup_name(now: datetime | None = None) -> str:
    """`whiteboard-<UTC time to the microsecond>.db`: names sort in the order taken."""
    now = now or datetime.now(UTC)
    return f"whiteboard-{now:%Y%m%dT%H%M%S%f}Z.db"


def default_backup_path(folder: Path) -> Path:
    path = folder / backup_name()
    n = 1
    while path.exists():  # two backups in one microsecond: keep both
        path = folder / f"{backup_name()[:-3]}-{n}.db"
        n += 1
    return path


def list_backups(folder: Path) -> list[Path]:
    """The backups in `folder` that rotation manages, oldest first."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if BACKUP_NAME.match(p.name) and p.is_file())


# -- taking a backup ------------------------------------------------------------------------


def backup_sqlite(
    db_path: Path,
    dest: Path,
    *,
    max_bytes: int | None = None,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> BackupInfo:
    """Copy the live database to `dest` as one consistent point in time, checked, atomically.

    Writers are never blocked (WAL mode): the copy is one read transaction.
    `should_stop` is polled while copying; when it says so the copy ends in BackupError.
    Raises BackupSkipped, leaving nothing behind, when the copy would not fit: less free
    space beside `dest` than the database takes, or more than `max_bytes`.
    """
    started = time.monotonic()
    if not db_path.is_file():
        raise BackupError(f"no database at {db_path}")
    if dest.exists():
        raise BackupError(f"{dest} already exists; choose another name")
    _check_room_for_backup(db_path, dest.parent, max_bytes=max_bytes)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_name(dest, "tmp")
    try:
        _copy(db_path, tmp, progress=progress, should_stop=should_stop)
        if max_bytes is not None:
            # The database may have grown between the check and the copy's start.
            _refuse_larger_than(max_bytes, "the copy", _size(tmp))
        _fsync(tmp)
        check_database(tmp)
        _publish(tmp, dest)
    finally:
        _remove(tmp)
    return BackupInfo(path=dest, bytes=dest.stat().st_size, seconds=time.monotonic() - started)


def _check_room_for_backup(db_path: Path, folder: Path, *, max_bytes: int | None) -> None:
    """Raise BackupSkipped unless a backup of `db_path` may start in `folder`.

    A copy larger than `max_bytes` (the rotated folder's bound; None for a file the operator
    names) would push every other backup out and still not fit: the older ones are kept
    instead. A folder with less free space than the database takes on disk (file and WAL)
    could fill its disk before the copy ends.
    """
    if max_bytes is not None:
        _refuse_larger_than(max_bytes, "the database", _copy_bytes(db_path))
    needed = _database_bytes(db_path)
    free = shutil.disk_usage(_nearest_existing(folder)).free
    if free < needed:
        raise BackupSkipped(
            f"not enough free space in {folder}", free_bytes=free, needed_bytes=needed
        )


def _refuse_larger_than(max_bytes: int, what: str, size: int) -> None:
    if size > max_bytes:
        raise BackupSkipped(
            f"{what} is larger than WHITEBOARD_BACKUP_MAX_BYTES",
            copy_bytes=size,
            max_bytes=max_bytes,
        )


def _copy_bytes(db_path: Path) -> int:
    """The size of a backup taken now: the database's pages in use (free ones are not copied)."""
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=30)
    try:
        return _pages_in_use_bytes(conn)
    finally:
        conn.close()


def _pages_in_use_bytes(conn: sqlite3.Connection) -> int:
    page_size, pages, free = (
        int(conn.execute(f"PRAGMA {name}").fetchone()[0])
        for name in ("page_size", "page_count", "freelist_count")
    )
    return (pages - free) * page_size


def _database_bytes(db_path: Path) -> int:
    """The database file and its WAL on disk (the WAL may hold much of the data), in bytes."""
    return sum(_size(p) for p in (db_path, db_path.with_name(db_path.name + "-wal")))


def _nearest_existing(path: Path) -> Path:
    # The backup folder is made by the first backup: until then its parent tells the space.
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _copy(
    source: Path,
    target: Path,
    *,
    progress: Progress | None,
    should_stop: Callable[[], bool] | None,
) -> None:
    """`VACUUM INTO`: one read transaction (one point in time, writers never blocked in WAL
    mode), and a compact file: the free pages that snapshots leave behind are not copied.
    SQLite's step-wise backup API copies them all (a third of a 20,000-path database), and
    restarts whenever another connection commits unless a read transaction is held open.
    """
    src = sqlite3.connect(source, isolation_level=None, timeout=30, check_same_thread=False)
    stopped = threading.Event()
    finished = threading.Event()

    def watch(expected: int) -> None:
        # VACUUM INTO reports nothing while it runs: the growing file is the progress.
        while not finished.wait(PROGRESS_EVERY_S):
            if should_stop is not None and should_stop():
                stopped.set()
                src.interrupt()
                return
            if progress is not None:
                with contextlib.suppress(FileNotFoundError):
                    if size := target.stat().st_size:
                        progress(min(size, expected), expected)

    try:
        expected = max(1, _pages_in_use_bytes(src))
        watcher = threading.Thread(target=watch, args=(expected,), name="backup-progress")
        watcher.start()
        try:
            src.execute("VACUUM INTO ?", (str(target),))
        finally:
            finished.set()
            watcher.join()
        if progress is not None:
            progress(expected, expected)
    except sqlite3.Error as exc:
        if stopped.is_set():
            raise BackupError("backup stopped") from None
        raise BackupError(f"copying {source} failed: {exc}") from None
    finally:
        src.close()


def _publish(tmp: Path, dest: Path) -> None:
    # A hard link never replaces an existing file (a rename would); the same folder, so atomic.
    try:
        os.link(tmp, dest)
    except FileExistsError:
        raise BackupError(f"{dest} already exists; choose another name") from None
    except OSError:  # a file system without hard links
        if dest.exists():
            raise BackupError(f"{dest} already exists; choose another name") from None
        os.replace(tmp, dest)
    _fsync_dir(dest.parent)


# -- checking ------------------------------------------------------------------------------


def check_database(path: Path) -> None:
    """Raise BackupError unless `path` is a sound SQLite file with the whiteboard's tables."""
    if not path.is_file():
        raise BackupError(f"{path} is not a file")
    with open(path, "rb") as f:
        if f.read(16) != b"SQLite format 3\x00":
            raise BackupError(f"{path} is not an SQLite database")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BackupError(f"{path} cannot be opened: {exc}") from None
    try:
        rows = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
        if rows != ["ok"]:
            first = " ".join(rows[0].replace("*** in database main ***", "").split())
            more = f" (and {len(rows) - 1} more)" if len(rows) > 1 else ""
            raise BackupError(f"{path} fails the integrity check: {first}{more}")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        missing = [t for t in REQUIRED_TABLES if t not in tables]
        if missing:
            raise BackupError(
                f"{path} is not a whiteboard database (no {', '.join(missing)} table)"
            )
    except sqlite3.Error as exc:
        raise BackupError(f"{path} is damaged: {exc}") from None
    finally:
        conn.close()


def schema_revision(path: Path) -> str | None:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None
    except sqlite3.Error:
        return None
    finally:
        conn.close()


def check_restorable(path: Path) -> None:
    """Raise BackupError unless `path` is a sound whiteboard database of a schema we know."""
    check_database(path)
    revision = schema_revision(path)
    if revision not in known_revisions():
        raise BackupError(f"{path} has schema revision {revision!r}, which this version of the "
                          "server does not know (made by a newer one?)")


# -- rotation ------------------------------------------------------------------------------


def prune(folder: Path, *, keep: int, max_bytes: int) -> list[Path]:
    """Delete the oldest backups until at most `keep` remain taking at most `max_bytes` in all,
    and temporary files of dead processes. Returns what was deleted.

    The newest backup goes too if it alone is larger than `max_bytes`: the bound holds. No
    such backup is taken (`backup_sqlite` refuses it); only a lowered bound leaves one.
    """
    backups = list_backups(folder)
    doomed = backups[: len(backups) - _newest_within(backups, keep=keep, max_bytes=max_bytes)]
    if folder.is_dir():
        doomed += [p for p in folder.iterdir() if _abandoned_temp(p)]
    for path in doomed:
        _remove(path)
    return doomed


def _newest_within(backups: list[Path], *, keep: int, max_bytes: int) -> int:
    """How many of the newest `backups` (given oldest first) fit both bounds together."""
    count = total = 0
    for path in reversed(backups):
        total += _size(path)
        if count == keep or total > max_bytes:
            break
        count += 1
    return count


def _abandoned_temp(path: Path) -> bool:
    match = TEMP_NAME.match(path.name)
    return match is not None and not _alive(int(match["pid"]))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- who uses the database -----------------------------------------------------------------


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock")


def hold_shared(db_path: Path) -> IO[bytes]:
    """A shared lock on the database for the life of this process (`serve`, `migrate`).

    The kernel drops it when the process ends, however it ends (kill -9 included), so it
    never goes stale. Several servers may hold it at once; `restore` needs it alone.
    Keep the returned file open for as long as the lock should be held.
    """
    db_path.parent.mkdir(parents=True, exist_ok=True)
    f = open(lock_path(db_path), "ab")  # noqa: SIM115 (held until the process ends)
    try:
        fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        raise DatabaseInUse(f"{db_path} is being restored; try again when that is done") from None
    return f


@contextlib.contextmanager
def hold_exclusive(db_path: Path) -> Iterator[None]:
    """The database to ourselves, or DatabaseInUse at once (never wait on a live server)."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path(db_path), "ab") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DatabaseInUse(
                f"{db_path} is in use by a running server (or a backup); stop it first"
            ) from None
        # Belt and braces for programs that do not take our lock (an older server, the
        # sqlite3 shell): one that is writing right now holds SQLite's own write lock.
        if db_path.exists():
            _refuse_if_writing(db_path)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _refuse_if_writing(db_path: Path) -> None:
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=1)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        raise DatabaseInUse(f"{db_path} is in use by another program ({exc})") from None
    except sqlite3.DatabaseError:
        pass  # a damaged database is replaced all the same (and kept aside)
    finally:
        conn.close()


# -- restore -------------------------------------------------------------------------------


def restore(
    backup: Path,
    db_path: Path,
    *,
    progress: Progress | None = None,
    check: Callable[[Path], None] = check_database,
) -> RestoreInfo:
    """Replace the database at `db_path` with a checked copy of `backup`.

    The previous database (with its -wal, which may hold committed transactions) is kept
    aside as `<name>.replaced-<time>`. Refuses while a server holds the database.
    """
    started = time.monotonic()
    check(backup)
    if db_path.exists() and db_path.resolve() == backup.resolve():
        raise BackupError(f"{backup} is the database itself")
    with hold_exclusive(db_path):
        tmp = _temp_name(db_path, "restore")
        try:
            _copy(backup, tmp, progress=progress, should_stop=None)
            _fsync(tmp)
            replaced = _set_aside(db_path)
            try:
                os.replace(tmp, db_path)
            except OSError:
                if replaced is not None:
                    os.replace(replaced, db_path)
                raise
            _fsync_dir(db_path.parent)
        finally:
            _remove(tmp)
    return RestoreInfo(
        database=db_path,
        replaced=replaced,
        bytes=db_path.stat().st_size,
        seconds=time.monotonic() - started,
    )


def _set_aside(db_path: Path) -> Path | None:
    if not db_path.exists():
        for suffix in ("-wal", "-shm", "-journal"):  # leftovers of a database long gone
            _remove(db_path.with_name(db_path.name + suffix))
        return None
    with contextlib.suppress(sqlite3.Error):
        # Fold the WAL into the file, so that the copy kept aside is whole by itself.
        conn = sqlite3.connect(db_path, isolation_level=None, timeout=1)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            conn.close()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = db_path.with_name(f"{db_path.name}.replaced-{stamp}")
    n = 1
    while aside.exists():
        aside = db_path.with_name(f"{db_path.name}.replaced-{stamp}-{n}")
        n += 1
    os.replace(db_path, aside)
    # The old -wal goes with it (SQLite finds `<name>-wal` next to `<name>`); the -shm is
    # only an index and is rebuilt. Neither may stay: SQLite would apply them to the new file.
    for suffix in ("-wal", "-journal"):
        old = db_path.with_name(db_path.name + suffix)
        if old.exists():
            os.replace(old, aside.with_name(aside.name + suffix))
    _remove(db_path.with_name(db_path.name + "-shm"))
    return aside


# -- files ---------------------------------------------------------------------------------


def _temp_name(path: Path, kind: str) -> Path:
    return path.with_name(f".{path.name}.{kind}-{os.getpid()}-{secrets.token_hex(4)}")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:  # never there, or pruned by another process meanwhile
        return 0


def _remove(path: Path) -> None:
    for p in (path, path.with_name(path.name + "-journal")):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a folder be synced
        _fsync(folder)
