"""Waiting with a deadline where there is no event: poll a public condition.

Where there is an event (a client's own batch echoed back, a presence change) wait on it
instead: see `tests.support.client.BoardClient`.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable

import anyio
import pytest

Condition = Callable[[], bool | Awaitable[bool]]


async def until(condition: Condition, *, timeout: float = 5.0, interval: float = 0.05,
                what: str = "") -> None:
    """Poll `condition()` (plain or async) until it holds; fail the test after `timeout` s."""
    try:
        with anyio.fail_after(timeout):
            while True:
                held = condition()
                if inspect.isawaitable(held):
                    held = await held
                if held:
                    return
                await anyio.sleep(interval)
    except TimeoutError:
        pytest.fail(f"not within {timeout} s: {what or getattr(condition, '__name__', '?')}")


def until_sync(condition: Callable[[], bool], *, timeout: float = 5.0, interval: float = 0.05,
               what: str = "") -> None:
    """`until` for code that is not async (a fixture starting a process)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout} s: {what or getattr(condition, '__name__', '?')}")
        time.sleep(interval)
