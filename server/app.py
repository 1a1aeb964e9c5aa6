"""create_app(settings): the one place that wires implementations to the core's ports."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import anyio
from anyio import to_thread
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.middleware.cors import CORSMiddleware

from crdt.ports import RoomPorts
from crdt.room_config import RoomConfig
from crdt.rooms import ManagerConfig, RoomManager
from persistence.db import backend_name, create_db_engine, database_answers, sqlite_file
from persistence.documents import SqlDocumentStore
from persistence.migrate import migrate
from persistence.realtime import open_realtime_state
from persistence.rooms import RoomRepository
from persistence.state import RealtimeState
from server import ws
from server.api import export, health, history, pages, rooms
from server.api.security import SecurityHeaders, validation_error
from server.auth import TokenService
from server.backups import run_backups
from server.config import Settings
from server.deps import Services
from server.metrics import build_registry
from server.process_tuning import release_free_memory

log = logging.getLogger("whiteboard.app")


class RepositoryActivity:
    """The core's RoomActivity port on the room repository."""

    def __init__(self, repository: RoomRepository) -> None:
        self._repository = repository

    async def user_seen(self, *, user_id: str) -> None:
        await self._repository.touch_session(user_id=user_id)

    async def active_users_changed(self, *, room_id: str, count: int) -> None:
        await self._repository.set_active_users(room_id=room_id, count=count)


def manager_config(settings: Settings) -> ManagerConfig:
    return ManagerConfig(
        room=RoomConfig(
            batch_interval_s=settings.batch_interval_ms / 1000,
            max_message_bytes=settings.max_message_bytes,
            outbox_size=settings.outbox_size,
            outbox_bytes=settings.outbox_bytes,
            max_document_bytes=settings.max_document_bytes,
            max_path_data=settings.max_path_data,
            awareness_timeout_s=settings.awareness_timeout_s,
            heartbeat_s=settings.heartbeat_s,
            presence_refresh_s=settings.presence_ttl_s / 3,
            sleep_after_s=settings.room_sleep_after_s,
            silence_timeout_s=settings.silence_timeout_s,
        ),
        snapshot_interval_s=settings.snapshot_interval_s,
        room_idle_s=settings.room_idle_s,
    )


def realtime_state(settings: Settings) -> RealtimeState:
    """Shared by several processes when configured, else this process's memory."""
    # A room counts against its creator's IP while it is live: loaded somewhere, or created
    # and not yet idle for the clean-up time.
    return open_realtime_state(
        settings.realtime_state_url,
        prefix=settings.realtime_state_prefix,
        live_window_s=settings.room_idle_s + 60,
        presence_ttl_s=settings.presence_ttl_s,
    )


# Below this many open files a busy server runs out of sockets (each client holds one).
WANTED_OPEN_FILES = 4096


def raise_open_files_limit() -> tuple[int, int] | None:
    """Raise the soft open-files limit to the hard one; the (soft, hard) limits then in force.

    A default `ulimit -n` of 1,024 runs out at about a thousand clients. Logs a warning when
    the limit stays below WANTED_OPEN_FILES. None where there are no such limits (Windows).
    """
    try:
        import resource
    except ImportError:
        return None
    nofile = resource.RLIMIT_NOFILE
    soft, hard = resource.getrlimit(nofile)
    # An unlimited hard limit: Linux refuses a soft one past fs.nr_open (2**20 by default).
    wanted = [hard] if hard != resource.RLIM_INFINITY else [resource.RLIM_INFINITY, 2**20]
    for target in wanted:
        if soft != resource.RLIM_INFINITY and target != soft and (
            target == resource.RLIM_INFINITY or target > soft
        ):
            try:
                resource.setrlimit(nofile, (target, hard))
            except (ValueError, OSError):
                continue
            log.info("open files limit raised", extra={"from": soft, "to": target})
            soft = target
            break
    if soft != resource.RLIM_INFINITY and soft < WANTED_OPEN_FILES:
        log.warning(
            "open files limit is %d (hard limit %s): the server can hold fewer than that "
            "many connections; raise it (ulimit -n, systemd LimitNOFILE=) to at least %d",
            soft, "unlimited" if hard == resource.RLIM_INFINITY else hard, WANTED_OPEN_FILES,
        )
    return soft, hard


def create_app(settings: Settings | None = None, *, run_migrations: bool = True) -> FastAPI:
    settings = settings or Settings()
    tokens = TokenService(
        secret=settings.resolved_jwt_secret(),
        algorithm=settings.jwt_algorithm,
        ttl_s=settings.token_ttl_s,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        raise_open_files_limit()
        database = backend_name(settings.database_url)
        engine = create_db_engine(settings.database_url)
        if run_migrations:
            await to_thread.run_sync(migrate, engine)
        repository = RoomRepository(engine)
        store = SqlDocumentStore(
            engine, max_path_data=settings.max_path_data,
            history_compact_interval_s=settings.snapshot_interval_s,
        )
        state = realtime_state(settings)
        ports = RoomPorts(
            store=store, activity=RepositoryActivity(repository), relay=state, presence=state,
            release_memory=release_free_memory,
        )
        manager = RoomManager(ports, config=manager_config(settings))
        services = Services(
            settings=settings,
            tokens=tokens,
            repository=repository,
            store=store,
            history=store,
            rooms=manager,
            state=state,
            database_ok=partial(database_answers, engine),
        )
        services.metrics = build_registry(services)
        app.state.services = services
        try:
            async with anyio.create_task_group() as tg:
                await tg.start(state.run)
                await tg.start(store.run)
                await tg.start(manager.run)
                await tg.start(partial(
                    run_backups, settings, db_path=sqlite_file(settings.database_url),
                    backend=database,
                ))
                log.info("server ready", extra={"database": database,
                                                "realtime_state": state.name})
                yield
                tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await state.aclose()
            engine.dispose()
            log.info("server stopped")

    app = FastAPI(title="Whiteboard server", version="0.1.0", lifespan=lifespan)
    # 422s never echo more than a short prefix of what was sent.
    app.add_exception_handler(RequestValidationError, validation_error)
    origins = settings.cors_origin_list()
    if origins:
        # Frontends served from another origin; without them no preflight is answered, so
        # no other site's page can send JSON here (forms: server/api/security.py).
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )
    docs = (app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url)
    app.add_middleware(SecurityHeaders, no_csp=[path for path in docs if path])
    app.include_router(rooms.router)
    app.include_router(export.router)
    app.include_router(history.router)
    app.include_router(health.router)
    app.include_router(ws.router)
    app.include_router(pages.router)
    return app
