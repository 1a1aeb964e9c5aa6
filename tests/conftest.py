"""Shared fixtures: real server processes on free ports, Redis key prefixes of their own.

The helpers they are built from (and that tests import) live in tests/support/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from persistence.db import create_db_engine
from persistence.migrate import migrate
from tests.support.databases import fresh_postgres_database
from tests.support.servers import (
    FAST_ENV,
    ServerProcess,
    assert_no_token_logged,
    realtime_env,
    redis_prefix,
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Any]:
    started: list[ServerProcess] = []

    def make(data_dir: Path | None = None, **env: str) -> ServerProcess:
        folder = data_dir or tmp_path / f"server{len(started)}"
        folder.mkdir(parents=True, exist_ok=True)
        proc = ServerProcess(folder, {**FAST_ENV, **env})
        started.append(proc)
        return proc.start()

    yield make
    for proc in started:
        proc.stop()
        assert_no_token_logged(proc)


@pytest.fixture(scope="module", params=["local", "redis"])
def server(request, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server shared by a test module (its tests each use rooms of their own), run once
    with in-process real-time state and once with Redis."""
    with redis_prefix() as prefix:
        env = {**FAST_ENV, **realtime_env(request.param, prefix)}
        proc = ServerProcess(tmp_path_factory.mktemp(f"server-{request.param}"), env).start()
        yield proc
        proc.stop()
        assert_no_token_logged(proc)


@pytest.fixture
def redis_env() -> Iterator[dict[str, str]]:
    """Settings that put a test's servers on the shared Redis under a prefix of their own."""
    with redis_prefix() as prefix:
        yield realtime_env("redis", prefix)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path: Path) -> Iterator[Engine]:
    """A migrated database of its own, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        engine = create_db_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
        migrate(engine)
        yield engine
        engine.dispose()
        return
    with fresh_postgres_database() as url:
        engine = create_db_engine(url)
        migrate(engine)
        yield engine
        engine.dispose()
