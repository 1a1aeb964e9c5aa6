"""A client IP may have at most WHITEBOARD_MAX_ROOMS_PER_IP live rooms (in-process and Redis)."""

from __future__ import annotations

import concurrent.futures

import httpx
import pytest

from tests.support.client import BoardClient
from tests.support.servers import realtime_env, redis_prefix
from tests.support.waiting import until

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["local", "redis"])
def limited(request, server_factory):
    """Start servers with a room limit of 3 and the parametrised real-time state."""
    with redis_prefix() as prefix:
        def start(**env):
            return server_factory(**{"WHITEBOARD_MAX_ROOMS_PER_IP": "3",
                                     **realtime_env(request.param, prefix), **env})
        yield start


def create(server, headers=None) -> httpx.Response:
    return httpx.post(f"{server.base_url}/api/rooms", json={"name": "A"}, headers=headers or {})


def test_the_room_after_the_limit_gets_429_with_retry_after(limited):
    server = limited()
    assert [create(server).status_code for _ in range(3)] == [201, 201, 201]
    refused = create(server)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "3 live rooms" in refused.json()["detail"]


def test_parallel_creates_from_one_ip_never_exceed_the_limit(limited):
    server = limited()
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(lambda _: create(server).status_code, range(20)))
    assert codes.count(201) == 3
    assert codes.count(429) == 17


def test_forwarded_addresses_count_only_behind_a_trusted_proxy(limited):
    untrusted = limited()
    spoofed = [create(untrusted, {"X-Forwarded-For": f"10.0.0.{i}"}).status_code for i in range(4)]
    assert spoofed == [201, 201, 201, 429]  # all counted as 127.0.0.1

    proxied = limited(WHITEBOARD_TRUSTED_PROXIES="127.0.0.1,192.168.0.0/16")
    via = {"X-Forwarded-For": "198.51.100.7, 192.168.1.2"}  # right-most untrusted wins
    assert [create(proxied, via).status_code for _ in range(4)] == [201, 201, 201, 429]
    other = {"X-Forwarded-For": "198.51.100.8"}
    assert create(proxied, other).status_code == 201


async def test_a_room_stops_counting_once_its_live_state_is_cleaned_up(limited):
    server = limited(WHITEBOARD_ROOM_IDLE_S="1", WHITEBOARD_MAX_ROOMS_PER_IP="1")
    first = create(server).json()
    assert create(server).status_code == 429
    # Use the room, leave it: after the idle time it is cleaned up and the slot is free.
    async with BoardClient(first["ws_url"], first["token"]) as client:
        await client.synced.wait()
        await client.draw("kept", {"d": "M 0 0 L 1 1", "color": "#000000", "width": 1})
        await client.wait_for_echo()  # merged and in the log
    await until(lambda: create(server).status_code == 201, timeout=15, interval=0.25,
                what="the cleaned-up room's slot is free again")
    # Its drawing was kept and comes back on join.
    joined = httpx.post(f"{server.base_url}/api/rooms/{first['room_id']}/join",
                        json={"name": "B"}).json()
    async with BoardClient(joined["ws_url"], joined["token"]) as again:
        await again.wait_for(lambda: "kept" in again.board())
