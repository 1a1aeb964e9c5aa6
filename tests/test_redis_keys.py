"""Redis holds a room's live state only while it is live, and nothing without an expiry."""

from __future__ import annotations

import pytest
import redis

from tests.support.client import BoardClient
from tests.support.metrics import metrics
from tests.support.servers import REDIS_URL, create_room
from tests.support.waiting import until

pytestmark = pytest.mark.anyio


def keys(client: redis.Redis, pattern: str) -> list[str]:
    return sorted(k.decode() for k in client.scan_iter(match=pattern, count=1000))


async def test_a_rooms_keys_expire_and_go_when_its_live_state_is_cleaned_up(
    server_factory, redis_env
):
    prefix = redis_env["WHITEBOARD_REDIS_PREFIX"]
    server = server_factory(**redis_env, WHITEBOARD_ROOM_IDLE_S="2")
    room = create_room(server)
    r = redis.Redis.from_url(REDIS_URL)
    try:
        async with BoardClient(room.ws_url, room.token) as client:
            await client.synced.wait()
            await client.set_awareness({"user": {"name": "A"}, "cursor": {"x": 1, "y": 1}})
            await client.draw("k", {"d": "M 0 0 L 1 1", "color": "#000000", "width": 1})
            await until(lambda: len(keys(r, f"{prefix}:room:{room.room_id}:*")) >= 4,
                        what="the room's keys in Redis")
            live = keys(r, f"{prefix}:*")
            assert {f"{prefix}:room:{room.room_id}:{part}" for part in
                    ("meta", "stream", "presence")} <= set(live)
            assert f"{prefix}:ip:127.0.0.1:rooms" in live
            # Nothing is kept forever: every key carries an expiry.
            assert all(r.ttl(key) > 0 for key in live), {k: r.ttl(k) for k in live}
            assert int(r.hget(f"{prefix}:room:{room.room_id}:meta", "active_users")) == 1
        await until(lambda: metrics(server).get("whiteboard_rooms_unloaded_total") == 1.0,
                    timeout=20, what="the room's live state is cleaned up")
        assert keys(r, f"{prefix}:room:{room.room_id}:*") == []
        assert r.zscore(f"{prefix}:ip:127.0.0.1:rooms", room.room_id) is None
    finally:
        r.close()
