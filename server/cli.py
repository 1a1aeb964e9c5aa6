"""`whiteboard serve | migrate | backup | restore | export | history`."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO

from server.cli_history import register as register_history
from server.config import Settings
from server.process_tuning import tune_garbage_collector


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from persistence.backup import DatabaseInUse
    from persistence.migrate import migrate_database
    from server.app import create_app
    from server.listener import http_protocol
    from server.logs import configure_logging
    from server.shutdown import GRACE_S, GracefulServer, close_rooms_of

    configure_logging(args.log_level.upper(), settings.log_format)
    # The database runs in worker threads: a shorter GIL switch interval hands them the
    # interpreter sooner while the event loop is busy (the default 5 ms adds tens of ms
    # of latency to every log append under load).
    sys.setswitchinterval(0.001)
    try:
        _hold_database(settings)
    except DatabaseInUse as exc:
        print(f"whiteboard serve: {exc}", file=sys.stderr)
        return 1
    migrate_database(settings.database_url)
    app = create_app(settings, run_migrations=False)
    tune_garbage_collector()
    # picows frames the websocket on the same port as HTTP (server/listener.py); with
    # compression on, the websocket stays on uvicorn's ASGI path: picows cannot deflate.
    on_picows = settings.ws_transport == "picows" and not settings.ws_compression
    if settings.ws_transport == "picows" and settings.ws_compression:
        logging.getLogger("whiteboard.ws").info(
            "websocket compression is on: websockets are served by uvicorn (ASGI), "
            "not picows, which has no permessage-deflate"
        )
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        http=http_protocol(on_picows),
        ws="websockets" if settings.ws_transport == "websockets" else "websockets-sansio",
        ws_max_size=settings.max_message_bytes,
        ws_per_message_deflate=settings.ws_compression,
        log_config=None,
        # We read X-Forwarded-For ourselves, only from WHITEBOARD_TRUSTED_PROXIES.
        proxy_headers=False,
        access_log=args.access_log,
        timeout_graceful_shutdown=GRACE_S,
    )
    # SIGTERM or Ctrl-C: the rooms finish their batches and close with 1012 before uvicorn
    # closes what is left; a second signal exits at once (server/shutdown.py).
    server = GracefulServer(config, before_shutdown=close_rooms_of(app))
    with contextlib.suppress(KeyboardInterrupt):  # as uvicorn.run: a normal stop
        server.run()
    # After SIGTERM, uvicorn re-raises it once stopped: the process ends by that signal.
    return 0 if server.started else 3  # 3: uvicorn's "startup failed"


def _migrate(_args: argparse.Namespace, settings: Settings) -> int:
    from persistence.migrate import migrate_database

    _hold_database(settings)
    migrate_database(settings.database_url)
    print("database is at the latest schema")
    return 0


_held: list[IO[bytes]] = []  # shared database locks, kept until the process ends


def _hold_database(settings: Settings) -> None:
    """Take the shared lock that keeps `whiteboard restore` off a database in use (SQLite).

    Raises DatabaseInUse while a restore holds the database.
    """
    from persistence.backup import hold_shared
    from persistence.db import sqlite_file

    db_path = sqlite_file(settings.database_url)
    if db_path is not None:
        _held.append(hold_shared(db_path))


class _Progress:
    """Percentages on stderr: rewritten in place on a terminal, one line per tenth otherwise."""

    def __init__(self, verb: str) -> None:
        self._verb = verb
        self._tty = sys.stderr.isatty()
        self._shown = -100

    def __call__(self, done: int, total: int) -> None:
        percent = 100 * done // max(total, 1)
        if self._tty and percent != self._shown:
            print(f"\r{self._verb}: {percent:3d}% of {total / 1e6:.1f} MB", end="",
                  file=sys.stderr, flush=True)
        elif not self._tty and (percent >= self._shown + 10 or (percent == 100 > self._shown)):
            print(f"{self._verb}: {percent}% of {total / 1e6:.1f} MB", file=sys.stderr, flush=True)
        else:
            return
        self._shown = percent

    def done(self) -> None:
        if self._tty and self._shown >= 0:
            print(file=sys.stderr)


Command = Callable[[argparse.Namespace, Settings], int]


def _reporting(command: str, run: Command) -> Command:
    """Expected failures end as one line on stderr and exit status 1, without a traceback."""

    def wrapper(args: argparse.Namespace, settings: Settings) -> int:
        from persistence.backup import REPORTABLE_ERRORS

        try:
            return run(args, settings)
        except REPORTABLE_ERRORS as exc:
            print(f"whiteboard {command}: {exc}", file=sys.stderr)
            return 1

    return wrapper


def _sqlite_database(settings: Settings, command: str) -> Path:
    from persistence.backup import BackupError
    from persistence.db import backend_name, sqlite_file

    db_path = sqlite_file(settings.database_url)
    if db_path is None:
        backend = backend_name(settings.database_url)
        if backend == "postgresql":
            raise BackupError(f"{command} is for SQLite databases; for PostgreSQL use pg_dump "
                              "and pg_restore (or base backups with WAL archiving)")
        raise BackupError(f"{command} needs an SQLite database file, not {backend}")
    return db_path


def _backup(args: argparse.Namespace, settings: Settings) -> int:
    from persistence.backup import BackupError, backup_sqlite, default_backup_path, prune

    db_path = _sqlite_database(settings, "backup")
    rotated = args.path is None
    dest = Path(args.path) if args.path else default_backup_path(settings.backup_dir)
    if dest.is_dir():
        dest = default_backup_path(dest)
    if dest.resolve() == db_path.resolve():
        raise BackupError(f"{dest} is the database itself; choose another name")
    _hold_database(settings)  # a restore must not swap the file under the copy
    # The rotated folder's bound in bytes; a file named by the operator has none.
    max_bytes = settings.backup_max_bytes if rotated else None
    progress = _Progress("backing up")
    try:
        info = backup_sqlite(db_path, dest, max_bytes=max_bytes, progress=progress)
    finally:
        progress.done()
    if rotated:
        prune(dest.parent, keep=settings.backup_keep, max_bytes=settings.backup_max_bytes)
    print(f"whiteboard backup: {info.bytes / 1e6:.1f} MB in {info.seconds:.2f} s, "
          "integrity check ok", file=sys.stderr)
    print(info.path)
    return 0


def _restore(args: argparse.Namespace, settings: Settings) -> int:
    from persistence.backup import BackupError, check_restorable, restore

    db_path = _sqlite_database(settings, "restore")
    source = Path(args.path)
    if not source.exists():
        raise BackupError(f"{source} does not exist")
    print(f"whiteboard restore: checking {source}", file=sys.stderr)
    progress = _Progress("restoring")
    try:
        info = restore(source, db_path, progress=progress, check=check_restorable)
    finally:
        progress.done()
    kept = f"; the previous database is kept as {info.replaced}" if info.replaced else ""
    print(f"restored {info.database} from {source}{kept}")
    return 0


def _export(args: argparse.Namespace, settings: Settings) -> int:
    import anyio

    from crdt.boards import board_paths
    from crdt.svg import export_svg
    from persistence.db import create_db_engine
    from persistence.documents import SqlDocumentStore

    engine = create_db_engine(settings.database_url)
    try:
        stored = anyio.run(SqlDocumentStore(engine).load, args.room_id.lower())
    finally:
        engine.dispose()
    if stored is None:
        print(f"whiteboard export: no room {args.room_id}", file=sys.stderr)
        return 1
    write_svg(export_svg(board_paths(stored.updates, max_path_data=settings.max_path_data)),
              args.output)
    return 0


def write_svg(text: str, output: str | None) -> None:
    """An exported board to `output`, or to stdout for none or `-`."""
    if output in (None, "-"):
        sys.stdout.write(text)
    else:
        with open(output, "w", encoding="utf-8") as out:
            out.write(text)
        print(f"wrote {output}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="whiteboard",
        description="A real-time shared whiteboard server (Yjs over y-websocket).",
        epilog="Configuration comes from WHITEBOARD_* environment variables; see README.md.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the server (migrating the database first)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
    serve.add_argument("--log-level", default="info", help="debug, info, warning, error")
    serve.add_argument("--access-log", action="store_true", help="log every HTTP request")
    serve.set_defaults(run=_serve)

    commands.add_parser("migrate", help="bring the database to the latest schema").set_defaults(
        run=_reporting("migrate", _migrate)
    )
    backup = commands.add_parser("backup", help="write a consistent copy of the database now")
    backup.add_argument("path", nargs="?", help="file to write (default: the backup folder)")
    backup.set_defaults(run=_reporting("backup", _backup))
    restore = commands.add_parser("restore", help="restore the database from a backup file")
    restore.add_argument("path", help="backup file to restore")
    restore.set_defaults(run=_reporting("restore", _restore))
    export = commands.add_parser("export", help="write a room's drawing as SVG")
    export.add_argument("room_id")
    export.add_argument("-o", "--output", help="file to write (default: standard output)")
    export.set_defaults(run=_export)
    register_history(commands, export, _export)  # `history`, and `export --at`
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except Exception as exc:  # pydantic's ValidationError: a bad WHITEBOARD_* value
        print(f"whiteboard: bad configuration: {exc}", file=sys.stderr)
        return 2
    run: Command = args.run
    try:
        return run(args, settings)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
