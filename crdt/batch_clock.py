"""One clock for the batch windows of every room in a process.

With a timer per room, a hundred busy rooms end their windows at a hundred different
moments: each wakes the event loop twice (window opened, timer fired) and appends to
the log in a commit round of its own. On a shared clock the windows of many rooms end
together, their appends share one group commit, and the loop wakes once per room per
window. Rooms are dealt round-robin into a few phases, each ending its windows on its
own tick (one every interval / phases): ending every room's window at the same instant
would make one burst of sends that the last room in line waits out.

A room's window runs from its first change to its phase's next tick, so it is never
longer than the batch interval.
"""

from __future__ import annotations

import itertools

import anyio

PHASES = 2


class BatchClock:
    def __init__(self, interval_s: float, *, phases: int = PHASES) -> None:
        self.interval_s = interval_s
        self._due: list[list[anyio.Event]] = [[] for _ in range(phases)]
        self._next_phase = itertools.cycle(range(phases))

    def phase(self) -> int:
        """A phase for a new room."""
        return next(self._next_phase)

    def schedule(self, window_end: anyio.Event, phase: int = 0) -> None:
        """Set `window_end` at the next tick of `phase`."""
        self._due[phase].append(window_end)

    async def run(self) -> None:
        step = self.interval_s / len(self._due)
        next_tick = anyio.current_time() + step
        for tick in itertools.count():
            await anyio.sleep(max(0.0, next_tick - anyio.current_time()))
            phase = tick % len(self._due)
            due, self._due[phase] = self._due[phase], []
            for window_end in due:
                window_end.set()
            next_tick += step
            # A loop that fell behind does not catch up with a burst of ticks.
            next_tick = max(next_tick, anyio.current_time())
