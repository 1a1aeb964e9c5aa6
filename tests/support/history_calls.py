"""The history calls of docs/protocol.md §1 and §7, as the history tests make them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import httpx

from tests.support.servers import Joined, ServerProcess


def auth(joined: Joined) -> dict[str, str]:
    return {"Authorization": f"Bearer {joined.token}"}


def history(server: ServerProcess, joined: Joined) -> list[dict[str, Any]]:
    response = httpx.get(f"{server.base_url}/api/rooms/{joined.room_id}/history",
                         headers=auth(joined))
    assert response.status_code == 200, response.text
    return response.json()["points"]


async def wait_points(
    server: ServerProcess, joined: Joined, count: int, timeout: float = 10.0
) -> list[dict[str, Any]]:
    """Poll (no event tells an outsider that a snapshot was taken) until `count` points."""
    with anyio.fail_after(timeout):
        while len(points := history(server, joined)) < count:
            await anyio.sleep(0.1)
    assert len(points) == count, points
    return points


def svg_at(server: ServerProcess, joined: Joined, at: str) -> httpx.Response:
    return httpx.get(f"{server.base_url}/api/rooms/{joined.room_id}/svg",
                     params={"at": at}, headers=auth(joined))


def restore(server: ServerProcess, joined: Joined, at: str) -> httpx.Response:
    return httpx.post(f"{server.base_url}/api/rooms/{joined.room_id}/restore",
                      json={"at": at}, headers=auth(joined))


def parse(at: str) -> datetime:
    return datetime.fromisoformat(at)


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def later(at: str, **delta: float) -> str:
    return iso(parse(at) + timedelta(**delta))
