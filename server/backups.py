"""The backup loop: every BACKUP_INTERVAL_S, a checked copy of the SQLite database, if it changed.

"Changed" is the database's own answer (persistence/change_watcher.py), read before each copy
starts, so a commit racing the copy is either in it or moves the value again and is in the
next one. After a restart the first interval always backs up, since nothing cheap can prove
the file equals the newest backup.
"""

from __future__ import annotations

import logging
import threading
from functools import partial
from pathlib import Path

import anyio
from anyio import to_thread
from anyio.abc import TaskStatus

from persistence.backup import BackupSkipped, backup_sqlite, default_backup_path, prune
from persistence.change_watcher import ChangeWatcher
from server.config import Settings

log = logging.getLogger("whiteboard.backups")


async def run_backups(
    settings: Settings,
    *,
    db_path: Path | None,
    backend: str,
    task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Back the SQLite database at `db_path` up until cancelled; a failure is logged and
    retried next time. Without a file (`backend` is another database) there is nothing to do.
    """
    if db_path is None:
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
