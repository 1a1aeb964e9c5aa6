"""`whiteboard history ROOM_ID` and `whiteboard export ROOM_ID --at T` (docs/protocol.md §7)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from server.config import Settings

Command = Callable[[argparse.Namespace, Settings], int]


def _at(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 time such as 2026-11-26T10:00:00Z, got {text!r}"
        ) from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _with_store(settings: Settings, use: Callable[[Any], Any]) -> Any:
    import anyio

    from persistence.db import create_db_engine
    from persistence.documents import SqlDocumentStore

    engine = create_db_engine(settings.database_url)
    try:
        store = SqlDocumentStore(engine, max_path_data=settings.max_path_data)
        return anyio.run(use, store)
    finally:
        engine.dispose()


def history(args: argparse.Namespace, settings: Settings) -> int:
    """Print the room's points, newest first: time (as the API takes it) and drawn paths."""
    from crdt.history import iso

    room_id = args.room_id.lower()
    points = _with_store(settings, lambda store: store.history(room_id))
    if points is None:
        print(f"whiteboard history: no room {args.room_id}", file=sys.stderr)
        return 1
    for point in points:
        print(f"{iso(point.at_ms)}  {point.paths} paths")
    return 0


def export_at(args: argparse.Namespace, settings: Settings) -> int:
    """The room's drawing as SVG as it stood at the newest point at or before `--at`."""
    from crdt.history import iso
    from crdt.svg import export_svg
    from server.cli import write_svg

    room_id = args.room_id.lower()
    found = _with_store(settings, lambda store: store.board_at(room_id, args.at))
    if found is None:
        print(f"whiteboard export: no room {args.room_id}", file=sys.stderr)
        return 1
    when = iso(found.point.at_ms) if found.point else "before the first point: empty"
    write_svg(export_svg(found.entries), args.output)
    print(f"whiteboard export: the board at {when}", file=sys.stderr)
    return 0


def register(
    commands: Any, export: argparse.ArgumentParser, export_now: Command
) -> None:
    """Add `history`, and `--at` to `export` (which runs `export_now` without it)."""
    parser = commands.add_parser("history", help="list a room's history points")
    parser.add_argument("room_id")
    parser.set_defaults(run=history)
    export.add_argument(
        "--at", type=_at, help="the board at the newest history point at or before this "
        "ISO 8601 time (e.g. 2026-11-26T10:00:00Z; without a zone, UTC)"
    )

    def export_run(args: argparse.Namespace, settings: Settings) -> int:
        return export_at(args, settings) if args.at is not None else export_now(args, settings)

    export.set_defaults(run=export_run)
