"""Engine setup: SQLite in WAL mode for the embedded default, PostgreSQL for several machines."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
from anyio import to_thread
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from crdt.ports import StorageFull

# PostgreSQL's disk_full (psycopg.errors.DiskFull), matched by its code so that an SQLite-only
# install never needs the driver.
POSTGRES_DISK_FULL = "53100"


def normalise_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here (the driver we install), not psycopg2."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if (
        parsed.get_backend_name() != "sqlite"
        or not parsed.database
        or parsed.database == ":memory:"
    ):
        return None
    return Path(parsed.database)


def sqlite_file(url: str) -> Path | None:
    """The SQLite database file a configured URL names; None for any other database."""
    return sqlite_path(normalise_url(url))


def backend_name(url: str) -> str:
    """The kind of database a configured URL names: `sqlite`, `postgresql`, ..."""
    return make_url(normalise_url(url)).get_backend_name()


def create_db_engine(url: str) -> Engine:
    url = normalise_url(url)
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=8,
            max_overflow=8,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=8, max_overflow=8)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode loses nothing on a process crash (kill -9), only on power loss.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


async def database_answers(engine: Engine, *, within_s: float = 5) -> bool:
    """Whether the database runs a trivial query within `within_s` (for readiness checks)."""

    def ping() -> bool:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:  # whatever the driver raises, the answer is "not ready"
            return False

    with anyio.move_on_after(within_s):
        return await to_thread.run_sync(ping)
    return False


@contextmanager
def full_raises_storage_full() -> Iterator[None]:
    """Turn the database's own "no space" error into the port's StorageFull (cause kept).

    Any other error passes through as it is.
    """
    try:
        yield
    except DBAPIError as exc:
        if is_full(exc.orig):
            raise StorageFull(f"the database cannot take writes: {exc.orig}") from exc
        raise


def is_full(error: BaseException | None) -> bool:
    """SQLite's SQLITE_FULL (disk full, or max_page_count reached), PostgreSQL's disk_full."""
    if isinstance(error, sqlite3.Error):
        code = getattr(error, "sqlite_errorcode", None)
        # The code may be an extended one: its low byte is the primary code.
        return code is not None and code & 0xFF == sqlite3.SQLITE_FULL
    return getattr(error, "sqlstate", None) == POSTGRES_DISK_FULL
