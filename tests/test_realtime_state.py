"""The real-time state port: both back-ends keep its promises, and an unreachable one says so."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import httpx
import pytest

from persistence.realtime import open_realtime_state
from persistence.state import RealtimeState, StateUnavailable
from tests.support.servers import REDIS_URL, free_port, redis_prefix

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["local", "redis"])
async def state(request: pytest.FixtureRequest) -> AsyncIterator[RealtimeState]:
    with redis_prefix() as prefix:
        opened = open_realtime_state(
            REDIS_URL if request.param == "redis" else None,
            prefix=prefix,
            live_window_s=600,
            presence_ttl_s=15,
        )
        try:
            yield opened
        finally:
            await opened.aclose()


def unreachable_redis() -> RealtimeState:
    # A port nothing listens on: every call is refused at once.
    return open_realtime_state(
        f"redis://127.0.0.1:{free_port()}/0", prefix="unused", live_window_s=600,
        presence_ttl_s=15,
    )


async def test_each_back_end_counts_an_addresss_rooms_up_to_the_limit(state):
    first = await state.claim_room(ip="192.0.2.1", room_id="room-1", limit=2)
    second = await state.claim_room(ip="192.0.2.1", room_id="room-2", limit=2)
    third = await state.claim_room(ip="192.0.2.1", room_id="room-3", limit=2)
    elsewhere = await state.claim_room(ip="192.0.2.2", room_id="room-4", limit=2)
    assert (first.allowed, second.allowed, third.allowed, elsewhere.allowed) == (
        True, True, False, True
    )
    assert 1 <= third.retry_after_s <= 600


async def test_each_back_end_gives_a_released_claim_back(state):
    await state.claim_room(ip="192.0.2.1", room_id="room-1", limit=1)
    await state.release_claim("room-1")
    again = await state.claim_room(ip="192.0.2.1", room_id="room-2", limit=1)
    assert again.allowed


async def test_each_back_end_runs_and_answers_its_health_check(state):
    async with anyio.create_task_group() as tg:
        with anyio.fail_after(10):
            await tg.start(state.run)
            assert await state.healthy()
        tg.cancel_scope.cancel()


async def test_an_unreachable_redis_raises_state_unavailable_and_is_not_healthy():
    state = unreachable_redis()
    try:
        with anyio.fail_after(10):
            assert not await state.healthy()
            with pytest.raises(StateUnavailable):
                await state.claim_room(ip="192.0.2.1", room_id="room-1", limit=1)
            with pytest.raises(StateUnavailable):
                await state.release_claim("room-1")
    finally:
        await state.aclose()


def test_creating_a_room_while_redis_is_down_answers_503_and_readyz_names_redis(server_factory):
    server = server_factory(WHITEBOARD_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    created = httpx.post(f"{server.base_url}/api/rooms", json={"name": "Alice"}, timeout=30)
    assert created.status_code == 503, created.text
    assert created.json() == {"detail": "real-time state (Redis) unavailable; try again"}
    ready = httpx.get(f"{server.base_url}/readyz", timeout=30)
    assert ready.status_code == 503
    assert ready.json() == {"detail": "not ready: redis unavailable"}
