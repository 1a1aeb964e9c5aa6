"""Opening the real-time state: the one place that picks a back-end for a configuration."""

from __future__ import annotations

from persistence.state import RealtimeState
from persistence.state_local import LocalState
from persistence.state_redis import RedisState


def open_realtime_state(
    url: str | None, *, prefix: str, live_window_s: float, presence_ttl_s: float
) -> RealtimeState:
    """Redis at `url` (several processes share it), or this process's memory without one.

    `live_window_s`: how long a room counts against its creator's IP after it was last live.
    `prefix` starts every key in a shared store; `presence_ttl_s` is how long a process's
    presence entries outlive its last report there.
    """
    if url:
        return RedisState(
            url, prefix=prefix, live_window_s=live_window_s, presence_ttl_s=presence_ttl_s
        )
    return LocalState(live_window_s=live_window_s)
