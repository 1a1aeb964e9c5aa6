"""Running `whiteboard` commands as an operator would: a subprocess, its exit status and output."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.support.servers import FAST_ENV


def whiteboard_env(db_path: Path, **env: str) -> dict[str, str]:
    return {
        **os.environ,
        **FAST_ENV,
        "WHITEBOARD_DATABASE_URL": f"sqlite:///{db_path}",
        "WHITEBOARD_DATA_DIR": str(db_path.parent),
        "WHITEBOARD_BACKUP_DIR": str(db_path.parent / "backups"),
        **env,
    }


def whiteboard(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def integrity(path: Path) -> str:
    """SQLite's own verdict on a file, read independently of the code under test."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def rows(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()
