"""The backup loop: every BACKUP_INTERVAL_S, a checked copy of the SQLite database, if it changed.

"Changed" is SQLite's own answer: `PRAGMA data_version` on a connection this loop keeps open
and never writes with. It moves whenever any other connection (this server's pool, a CLI,
another process) commits, whatever the table, and costs no read of the data. A home-made
fingerprint (max(seq), row counts, latest timestamps) would miss updates that leave those
unchanged, such as a room's `active_users` going back and forth or a snapshot that compacts
the log. The value is read before each copy starts, so a commit racing the copy is either
in it or moves the value again and is in the next one. Checkpoints move it too: that costs
at most an extra backup just after real changes, never a missed one. After a restart the
first interval always backs up, since nothing cheap can prove the file equals the newest
backup.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from functools import partial
from pathlib import Path

import anyio
from anyio import to_thread
from anyio.abc import TaskStatus
from sqlalchemy import Engine

from persistence.backup import BackupSkipped, backup_sqlite, default_backup_path, prune
from persistence.db import sqlite_path
from server.config import Settings

log = logging.getLogger("whiteboard.backups")


class ChangeWatcher:
    """`PRAGMA data_version` on a connection of its own (call from one worker thread at a time)."""

    def __init__(self, db_path: Path) -> None:
        self._db_path = db_path
        self._conn: sqlite3.Connection | None = None
        self.backed_up: int | None = None  # the version the newest backup holds

    def version(self) -> int:
        if self._conn is None:
            self._conn = sqlite3.connect(
                self._db_path, isolation_level=None, timeout=30, check_same_thread=False
            )
        return self._conn.execute("PRAGMA data_version").fetchone()[0]

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


async def run_backups(
    settings: Settings, engine: Engine, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
) -> None:
    """Back the SQLite database up until cancelled; a failure is logged and retried next time."""
    db_path = sqlite_path(engine.url.render_as_string(hide_password=False))
    if db_path is None:
        backend = engine.url.get_backend_name()
        log.info(
            "backups are not taken by the server for this database: use the database's own "
            "tools (pg_dump, or base backups with WAL archiving, for PostgreSQL)",
            extra={"database": backend},
        )
        task_status.started()
        return
    folder = settings.backup_dir.resolve()
    watcher = ChangeWatcher(db_path)
    task_status.started()
    try:
        while True:
            await anyio.sleep(settings.backup_interval_s)
            await _backup_if_changed(
                watcher, db_path, folder,
                keep=settings.backup_keep, max_bytes=settings.backup_max_bytes,
            )
    finally:
        watcher.close()


async def _backup_if_changed(
    watcher: ChangeWatcher, db_path: Path, folder: Path, *, keep: int, max_bytes: int
) -> None:
    stop = threading.Event()
    try:
        version = await to_thread.run_sync(watcher.version)
        if version == watcher.backed_up:
            return
        dest = default_backup_path(folder)
        # Abandoned on shutdown: the copy stops at its next step and removes its file.
        info = await to_thread.run_sync(
            partial(backup_sqlite, db_path, dest, max_bytes=max_bytes, should_stop=stop.is_set),
            abandon_on_cancel=True,
        )
    except BackupSkipped as skipped:
        # Nothing is pruned: the backups already kept are all there is until this one fits.
        log.warning("backup skipped; will retry next interval",
                    extra={"reason": skipped.reason, **skipped.sizes})
        return
    except Exception as exc:
        log.warning("backup failed; will retry next interval",
                    extra={"error": f"{type(exc).__name__}: {exc}"})
        return
    finally:
        stop.set()
    watcher.backed_up = version
    log.info("backup written", extra={"path": str(info.path), "bytes": info.bytes,
                                      "seconds": round(info.seconds, 3)})
    try:
        removed = await to_thread.run_sync(
            partial(prune, folder, keep=keep, max_bytes=max_bytes)
        )
    except OSError as exc:
        log.warning("pruning old backups failed", extra={"error": str(exc)})
        return
    if removed:
        log.info("old backups pruned", extra={"removed": len(removed), "keep": keep,
                                              "max_bytes": max_bytes})
