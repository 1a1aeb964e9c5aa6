"""Real databases for storage tests: a SQLite file, and a fresh PostgreSQL database.

The suite's one policy for a missing PostgreSQL lives here, since every test reaches
PostgreSQL through `fresh_postgres_database`: the test is skipped, saying why, unless the
environment variable CI is set (`.ci/run` sets it), where it fails instead.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


@functools.cache
def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used (asked once per run), or None when it can."""
    try:
        with psycopg.connect(POSTGRES_ADMIN, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def require_postgres() -> None:
    """Skip the calling test when PostgreSQL is unreachable; fail it instead under CI."""
    problem = postgres_problem()
    if problem is None:
        return
    reason = f"no PostgreSQL at {POSTGRES_ADMIN}: {problem}"
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: PostgreSQL tests must run)", pytrace=False)
    pytest.skip(reason)


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A database of its own for one test (dropped afterwards); yields its URL."""
    require_postgres()
    name = f"wb_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
