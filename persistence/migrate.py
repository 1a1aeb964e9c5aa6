"""Run Alembic migrations programmatically (`whiteboard migrate`, and before `serve`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from persistence.db import create_db_engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(engine: Engine) -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def migrate_database(url: str) -> None:
    """Bring the database at a configured URL to the latest schema, on a connection of its own."""
    engine = create_db_engine(url)
    try:
        migrate(engine)
    finally:
        engine.dispose()


def known_revisions() -> set[str]:
    """Every schema revision this version of the server can migrate from."""
    scripts = ScriptDirectory.from_config(alembic_config(""))
    return {script.revision for script in scripts.walk_revisions()}
