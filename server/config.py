"""Settings: the WHITEBOARD_* environment variables, read when a Settings is built.

The CLI builds one and passes it down (`create_app(settings)`); the environment is not read
anywhere else, so a test or an embedding program may pass its own instead.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./data/whiteboard.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="WHITEBOARD_", extra="ignore", populate_by_name=True
    )

    database_url: str = DEFAULT_DATABASE_URL
    # Where the real-time state is shared between processes; unset: this process's memory.
    # The variables keep the names of the one back-end there is (docs/protocol.md §4).
    realtime_state_url: str | None = Field(
        default=None, validation_alias="WHITEBOARD_REDIS_URL"
    )
    realtime_state_prefix: str = Field(
        default="whiteboard", validation_alias="WHITEBOARD_REDIS_PREFIX"
    )
    jwt_secret: str | None = None
    jwt_algorithm: str = "HS256"
    token_ttl_s: int = Field(default=86400, gt=0)
    public_url: str | None = None
    batch_interval_ms: int = Field(default=100, ge=1)
    snapshot_interval_s: float = Field(default=60, gt=0)
    backup_interval_s: float = Field(default=60, gt=0)
    backup_dir: Path = Path("./data/backups")
    backup_keep: int = Field(default=60, ge=1)
    room_idle_s: float = Field(default=300, gt=0)
    max_rooms_per_ip: int = Field(default=10, ge=1)
    trusted_proxies: str = ""
    max_svg_bytes: int = Field(default=5 * 1024 * 1024, gt=0)
    max_message_bytes: int = Field(default=4 * 1024 * 1024, gt=0)
    # An update that would take a room's encoded document past this closes its writer (4413).
    max_document_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
    # The longest `d` of a path version, in characters (a longer one is an invalid version).
    max_path_data: int = Field(default=262_144, gt=0)
    # Total bytes of kept backups; the oldest go first (besides BACKUP_KEEP files).
    backup_max_bytes: int = Field(default=4 * 1024**3, gt=0)
    # `json`: one JSON object per log line, uvicorn's included (docs/protocol.md §8).
    log_format: Literal["text", "json"] = "text"
    # Origins whose pages may call the API from a browser (comma-separated); none by default.
    cors_origins: str = ""
    # Not in the contract's list (docs/protocol.md §4), but operators expect them tunable.
    # The per-IP room limit counts an IPv6 client by this prefix (one /64 is one household).
    ipv6_prefix: int = Field(default=64, ge=1, le=128)
    # Largest JSON request body (the SVG import keeps MAX_SVG_BYTES for multipart).
    max_json_bytes: int = Field(default=64 * 1024, gt=0)
    # A connection from which nothing arrived for this long is closed (stock clients renew
    # their awareness every 15 s).
    silence_timeout_s: float = Field(default=30, gt=0)
    data_dir: Path = Path("./data")
    outbox_size: int = Field(default=256, ge=1)
    # Bytes queued per client (besides its one pending sync reply) before it is closed (1013).
    outbox_bytes: int = Field(default=32 * 1024 * 1024, ge=1)
    awareness_timeout_s: float = Field(default=30, gt=0)
    heartbeat_s: float = Field(default=15, gt=0)
    presence_ttl_s: float = Field(default=15, gt=0)
    # A live room whose document nobody changed for this long keeps it encoded (0: never).
    room_sleep_after_s: float = Field(default=20, ge=0)
    # Off by default, as in the Node Yjs servers: deflate runs once per client per message
    # (the same merged update is compressed again for every connection).
    ws_compression: bool = False
    # What frames the websocket: `picows` (Cython, a callback per frame; the default) on the
    # same port as HTTP, or uvicorn's ASGI websocket with `websockets-sansio` or `websockets`.
    # Compression needs the ASGI path: picows has no permessage-deflate.
    ws_transport: Literal["picows", "websockets-sansio", "websockets"] = "picows"

    def resolved_jwt_secret(self) -> str:
        """The configured secret, or one generated once and kept in the data folder."""
        if self.jwt_secret:
            return self.jwt_secret
        return _load_or_create_secret(self.data_dir / "jwt_secret")

    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    def trusted_proxy_list(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]


def _load_or_create_secret(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(48))
    # link() fails if the name exists: two processes starting at once agree on one secret.
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()
