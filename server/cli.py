"""`whiteboard serve | migrate | backup | restore | export`."""

from __future__ import annotations

import argparse
import sys

from server.config import Settings


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from persistence.db import create_db_engine
    from persistence.migrate import migrate
    from server.app import create_app
    from server.logs import configure_logging

    configure_logging(args.log_level.upper())
    engine = create_db_engine(settings.database_url)
    try:
        migrate(engine)
    finally:
        engine.dispose()
    app = create_app(settings, run_migrations=False)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        ws="websockets-sansio",
        ws_max_size=settings.max_message_bytes,
        log_config=None,
        access_log=args.access_log,
        timeout_graceful_shutdown=10,
    )
    return 0


def _migrate(_args: argparse.Namespace, settings: Settings) -> int:
    from persistence.db import create_db_engine
    from persistence.migrate import migrate

    engine = create_db_engine(settings.database_url)
    try:
        migrate(engine)
    finally:
        engine.dispose()
    print("database is at the latest schema")
    return 0


def _not_yet(name: str):
    def run(_args: argparse.Namespace, _settings: Settings) -> int:
        print(f"whiteboard {name}: not available in this version yet", file=sys.stderr)
        return 2

    return run


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
        run=_migrate
    )
    backup = commands.add_parser("backup", help="write a consistent copy of the database now")
    backup.add_argument("path", nargs="?", help="file to write (default: the backup folder)")
    backup.set_defaults(run=_not_yet("backup"))
    restore = commands.add_parser("restore", help="restore the database from a backup file")
    restore.add_argument("path", help="backup file to restore")
    restore.set_defaults(run=_not_yet("restore"))
    export = commands.add_parser("export", help="write a room's drawing as SVG")
    export.add_argument("room_id")
    export.add_argument("-o", "--output", help="file to write (default: standard output)")
    export.set_defaults(run=_not_yet("export"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except Exception as exc:  # pydantic's ValidationError: a bad WHITEBOARD_* value
        print(f"whiteboard: bad configuration: {exc}", file=sys.stderr)
        return 2
    try:
        return args.run(args, settings)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
