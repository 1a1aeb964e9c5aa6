"""Real-time state in Redis: presence, room liveness, per-IP room counts, and the relay.

The relay uses one Redis Stream per room rather than pub/sub: a stream keeps the recent
merged batches (capped by length), so a process that subscribes just before loading a
room from the database, or whose connection blips, reads on from where it was instead
of silently missing what was published meanwhile. When it may still have missed
something (Redis was down), each room gets a RESYNC and reloads from the shared log.
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import anyio
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectSendStream
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from crdt.ports import PresenceEntry, RelayKind, RelayMessage
from persistence.state import RoomClaim, StateUnavailable

log = logging.getLogger("whiteboard.redis")

STREAM_MAXLEN = 1000
RELAY_BUFFER = 10_000

_CLAIM = """
local ip_key, meta_key = KEYS[1], KEYS[2]
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', ip_key, '-inf', now - window)
if redis.call('ZCARD', ip_key) >= limit then
  local oldest = redis.call('ZRANGE', ip_key, 0, 0, 'WITHSCORES')
  return {0, oldest[2]}
end
redis.call('ZADD', ip_key, now, ARGV[4])
redis.call('EXPIRE', ip_key, ARGV[6])
redis.call('HSET', meta_key, 'creator_ip', ARGV[5], 'created_at', ARGV[1],
           'last_activity_at', ARGV[1], 'live', '0')
redis.call('EXPIRE', meta_key, ARGV[6])
return {1, '0'}
"""

_LIVE = """
local prefix, now, ttl = ARGV[1], ARGV[2], ARGV[3]
for i = 4, #ARGV do
  local room = ARGV[i]
  local meta = prefix .. ':room:' .. room .. ':meta'
  local ip = redis.call('HGET', meta, 'creator_ip')
  if ip then
    local ip_key = prefix .. ':ip:' .. ip .. ':rooms'
    redis.call('ZADD', ip_key, now, room)
    redis.call('EXPIRE', ip_key, ttl)
    redis.call('HSET', meta, 'live', '1')
    redis.call('EXPIRE', meta, ttl)
  end
  redis.call('EXPIRE', prefix .. ':room:' .. room .. ':stream', ttl)
end
return 1
"""

_FREED = """
local prefix, room, me = ARGV[1], ARGV[2], ARGV[3]
local base = prefix .. ':room:' .. room
redis.call('DEL', base .. ':presence:' .. me)
redis.call('SREM', base .. ':presence', me)
for _, other in ipairs(redis.call('SMEMBERS', base .. ':presence')) do
  if redis.call('EXISTS', base .. ':presence:' .. other) == 1 then return 0 end
  redis.call('SREM', base .. ':presence', other)
end
local ip = redis.call('HGET', base .. ':meta', 'creator_ip')
if ip then redis.call('ZREM', prefix .. ':ip:' .. ip .. ':rooms', room) end
redis.call('DEL', base .. ':meta', base .. ':stream', base .. ':presence')
return 1
"""


@contextmanager
def _reaching_redis() -> Iterator[None]:
    """Redis's own errors (and a broken socket) become the port's StateUnavailable."""
    try:
        yield
    except (RedisError, OSError) as exc:
        raise StateUnavailable(f"Redis: {exc}") from exc


@dataclass
class _Subscription:
    last_id: bytes | None  # None: not known yet (Redis was down when we subscribed)
    send: MemoryObjectSendStream[RelayMessage]


class RedisState:
    """The RealtimeState shared by every process: presence, liveness, per-IP counts, relay."""

    name = "redis"

    def __init__(
        self, url: str, *, prefix: str, live_window_s: float, presence_ttl_s: float = 15
    ) -> None:
        self.process_id = uuid.uuid4().hex[:12]
        self._presence_ttl_ms = max(1, int(presence_ttl_s * 1000))
        self._prefix = prefix
        self._live_window_s = live_window_s
        self._ttl = int(live_window_s + 120)
        self._redis = aioredis.Redis.from_url(
            url, socket_connect_timeout=2, socket_timeout=5, retry_on_timeout=False
        )
        # Blocking reads get a connection of their own.
        self._reader = aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        self._subs: dict[str, _Subscription] = {}
        self._subs_changed = anyio.Event()
        self._local_users: dict[str, list[PresenceEntry]] = {}
        self._publish_failed: set[str] = set()
        self._down = False
        self._claim = self._redis.register_script(_CLAIM)
        self._live = self._redis.register_script(_LIVE)
        self._freed = self._redis.register_script(_FREED)

    def _key(self, *parts: str) -> str:
        return ":".join((self._prefix, *parts))

    async def healthy(self) -> bool:
        try:
            with anyio.fail_after(2):
                return bool(await self._redis.ping())
        except (RedisError, OSError, TimeoutError):
            return False

    async def aclose(self) -> None:
        await self._redis.aclose()
        await self._reader.aclose()

    # -- per-IP room counts ----------------------------------------------------------------

    async def claim_room(self, *, ip: str, room_id: str, limit: int) -> RoomClaim:
        now = time.time()
        with _reaching_redis():
            allowed, oldest = await self._claim(
                keys=[self._key("ip", ip, "rooms"), self._key("room", room_id, "meta")],
                args=[now, self._live_window_s, limit, room_id, ip, self._ttl],
            )
        if allowed:
            return RoomClaim(True)
        return RoomClaim(False, max(1, math.ceil(float(oldest) + self._live_window_s - now)))

    async def release_claim(self, room_id: str) -> None:
        with _reaching_redis():
            await self._freed(args=[self._prefix, room_id, self.process_id])

    # -- PresenceStore ---------------------------------------------------------------------

    async def set_users(self, room_id: str, users: list[PresenceEntry]) -> list[PresenceEntry]:
        self._local_users[room_id] = list(users)
        payload = json.dumps([_entry_to_json(u) for u in users])
        with _reaching_redis():
            async with self._redis.pipeline(transaction=False) as pipe:
                # Entries outlive a process only by this TTL: a dead process drops out of
                # presence.
                pipe.set(self._key("room", room_id, "presence", self.process_id), payload,
                         px=self._presence_ttl_ms)
                pipe.sadd(self._key("room", room_id, "presence"), self.process_id)
                pipe.expire(self._key("room", room_id, "presence"), self._ttl)
                await pipe.execute()
        everyone = await self.users(room_id)
        with _reaching_redis():
            await self._redis.hset(
                self._key("room", room_id, "meta"),
                "active_users",
                len({user.user_id for user in everyone}),
            )
        return everyone

    async def users(self, room_id: str) -> list[PresenceEntry]:
        try:
            members = sorted(await self._redis.smembers(self._key("room", room_id, "presence")))
            if not members:
                return []
            keys = [self._key("room", room_id, "presence", _text(m)) for m in members]
            values = await self._redis.mget(keys)
        except (RedisError, OSError):
            # Redis is away: what this process knows is better than nothing.
            return list(self._local_users.get(room_id, []))
        users: list[PresenceEntry] = []
        for value in values:
            if value is not None:
                users.extend(_entry_from_json(item) for item in json.loads(value))
        return users

    async def rooms_live(self, room_ids: list[str]) -> None:
        if room_ids:
            with _reaching_redis():
                await self._live(args=[self._prefix, time.time(), self._ttl, *room_ids])

    async def room_freed(self, room_id: str) -> None:
        self._local_users.pop(room_id, None)
        with _reaching_redis():
            await self._freed(args=[self._prefix, room_id, self.process_id])

    # -- Relay -----------------------------------------------------------------------------

    @asynccontextmanager
    async def subscribe(self, room_id: str) -> AsyncIterator[AsyncIterator[RelayMessage]]:
        send, receive = anyio.create_memory_object_stream[RelayMessage](RELAY_BUFFER)
        try:
            last_id: bytes | None = await self._stream_position(room_id)
        except (RedisError, OSError):
            last_id = None
        self._subs[room_id] = _Subscription(last_id, send)
        self._subs_changed.set()
        try:
            yield receive
        finally:
            self._subs.pop(room_id, None)
            send.close()
            receive.close()

    async def _stream_position(self, room_id: str) -> bytes:
        newest = await self._redis.xrevrange(self._key("room", room_id, "stream"), count=1)
        return _text(newest[0][0]).encode() if newest else b"0-0"

    async def publish(self, room_id: str, message: RelayMessage) -> None:
        stream = self._key("room", room_id, "stream")
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.xadd(stream, self._fields(message), maxlen=STREAM_MAXLEN, approximate=True)
                pipe.expire(stream, self._ttl)
                pipe.hset(self._key("room", room_id, "meta"), "last_activity_at", time.time())
                await pipe.execute()
        except (RedisError, OSError) as exc:
            # Something of ours is missing elsewhere: the announcer asks the others to reload.
            self._publish_failed.add(room_id)
            raise StateUnavailable(f"Redis: {exc}") from exc

    def _fields(self, message: RelayMessage) -> dict[Any, Any]:
        return {
            "o": self.process_id,
            "k": message.kind.value,
            "s": "" if message.seq is None else str(message.seq),
            "p": message.payload,
        }

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """The relay: a reader over every subscribed room's stream, and a resync announcer."""
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._announce_resyncs)
            task_status.started()
            await self._read_streams()

    async def _announce_resyncs(self) -> None:
        """Tell the other processes to reload a room as soon as one of our publishes failed.

        Waiting for our next publish is not enough: nobody may draw here for a while, and
        what we logged while Redis was away would stay unseen elsewhere until then.
        """
        while True:
            await anyio.sleep(0.25)
            for room_id in list(self._publish_failed):
                try:
                    await self._redis.xadd(
                        self._key("room", room_id, "stream"),
                        self._fields(RelayMessage(RelayKind.RESYNC)),
                        maxlen=STREAM_MAXLEN,
                        approximate=True,
                    )
                except (RedisError, OSError):
                    break
                self._publish_failed.discard(room_id)

    async def _read_streams(self) -> None:
        backoff = 0.1
        while True:
            if not self._subs:
                self._subs_changed = anyio.Event()
                await self._subs_changed.wait()
                continue
            try:
                await self._resolve_unknown_positions()
                streams: dict[Any, Any] = {
                    self._key("room", room_id, "stream"): sub.last_id
                    for room_id, sub in self._subs.items()
                    if sub.last_id is not None
                }
                result = await self._reader.xread(streams, count=500, block=200)
            except (RedisError, OSError) as exc:
                if not self._down:
                    log.warning("redis unavailable; rooms go on locally", extra={"error": str(exc)})
                    self._down = True
                await anyio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            backoff = 0.1
            if self._down:
                self._down = False
                log.info("redis is back; rooms catch up from the log")
                self._resync_all()
            self._dispatch(result)

    async def _resolve_unknown_positions(self) -> None:
        for room_id, sub in list(self._subs.items()):
            if sub.last_id is None:
                sub.last_id = await self._stream_position(room_id)
                self._deliver(sub, RelayMessage(RelayKind.RESYNC))

    def _resync_all(self) -> None:
        for room_id, sub in self._subs.items():
            self._publish_failed.add(room_id)  # our next publish tells the others too
            self._deliver(sub, RelayMessage(RelayKind.RESYNC))

    def _dispatch(self, result: Any) -> None:
        prefix_len = len(self._key("room", ""))
        for stream, entries in result or []:
            room_id = stream.decode()[prefix_len:].rsplit(":", 1)[0]
            sub = self._subs.get(room_id)
            if sub is None:
                continue
            for entry_id, fields in entries:
                sub.last_id = entry_id
                if fields.get(b"o", b"").decode() == self.process_id:
                    continue
                seq = fields.get(b"s", b"")
                self._deliver(sub, RelayMessage(
                    RelayKind(fields[b"k"].decode()),
                    fields.get(b"p", b""),
                    int(seq) if seq else None,
                ))

    def _deliver(self, sub: _Subscription, message: RelayMessage) -> None:
        try:
            sub.send.send_nowait(message)
        except anyio.WouldBlock:
            log.warning("relay backlog full; the room will reload from the log")
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entry_to_json(entry: PresenceEntry) -> dict[str, Any]:
    return {
        "id": entry.user_id,
        "name": entry.name,
        "color": entry.color,
        "cursor": list(entry.cursor) if entry.cursor else None,
        "t": entry.last_active_at,
    }


def _entry_from_json(item: dict[str, Any]) -> PresenceEntry:
    cursor = item.get("cursor")
    return PresenceEntry(
        user_id=item["id"],
        name=item["name"],
        color=item["color"],
        cursor=(float(cursor[0]), float(cursor[1])) if cursor else None,
        last_active_at=float(item["t"]),
    )
