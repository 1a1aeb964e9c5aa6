"""Has the SQLite database changed since the last backup? SQLite's own answer, cheaply.

`PRAGMA data_version` on a connection kept open and never written with moves whenever any
other connection (the server's pool, a CLI, another process) commits, whatever the table,
and costs no read of the data. A home-made fingerprint (max(seq), row counts, latest
timestamps) would miss updates that leave those unchanged, such as a room's `active_users`
going back and forth or a snapshot that compacts the log. Checkpoints move it too: that
costs at most an extra backup just after real changes, never a missed one.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


class ChangeWatcher:
    """`PRAGMA data_version` on a connection of its own (call from one worker thread at a time)."""

    def __init__(self, db_path: Path) -> None:
        self._db_path = db_path
        self._conn: sqlite3.Connection | None = None
        self.backed_up: int | None = None  # the version the newest backup holds

    def version(self) -> int:
        """The database's current data version (compare with `backed_up`)."""
        if self._conn is None:
            self._conn = sqlite3.connect(
                self._db_path, isolation_level=None, timeout=30, check_same_thread=False
            )
        version: int = self._conn.execute("PRAGMA data_version").fetchone()[0]
        return version

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
