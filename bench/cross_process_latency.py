"""How long a stroke takes to reach a client on another process, vs. on the same process.

    .venv/bin/python bench/cross_process_latency.py [--strokes 200]

Starts two `whiteboard serve` processes on one SQLite file and the local Redis
(127.0.0.1:6379, under a throw-away key prefix), puts a writer on A and readers on
A and B, writes one stroke every 50 ms, and prints the median and p95 of the time
from the writer's send to each reader's receipt (one clock: all in this process).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio
from pycrdt import Doc, handle_sync_message

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crdt import paths  # noqa: E402
from examples.client import BoardClient  # noqa: E402
from tests.support.servers import (  # noqa: E402
    FAST_ENV,
    ServerProcess,
    create_room,
    join_room,
    realtime_env,
    redis_prefix,
)


def first_arrivals(reader: BoardClient) -> dict[str, float]:
    doc, seen = Doc(), {}
    for at, message in reader.received:
        if message[0] == 0 and message[1] in (1, 2):
            handle_sync_message(message[1:], doc)
            for entry in paths.read_paths(doc):
                seen.setdefault(entry.key, at)
    return seen


async def measure(strokes: int) -> dict[str, list[float]]:
    folder = Path(tempfile.mkdtemp())
    with redis_prefix() as prefix:
        env = {**FAST_ENV, **realtime_env("redis", prefix),
               "WHITEBOARD_DATABASE_URL": f"sqlite:///{folder / 'shared.db'}",
               "WHITEBOARD_SNAPSHOT_INTERVAL_S": "60"}
        (folder / "a").mkdir()
        (folder / "b").mkdir()
        a = ServerProcess(folder / "a", env).start()
        b = ServerProcess(folder / "b", env).start()
        try:
            owner = create_room(a, "Writer")
            same = join_room(a, owner.room_id, "SameProcess")
            other = join_room(b, owner.room_id, "OtherProcess")
            sent: dict[str, float] = {}
            arrived: dict[str, dict[str, float]] = {"same": {}, "other": {}}
            async with BoardClient(f"{a.ws_base}/{owner.room_id}", owner.token) as writer, \
                    BoardClient(f"{a.ws_base}/{owner.room_id}", same.token) as near, \
                    BoardClient(f"{b.ws_base}/{owner.room_id}", other.token) as far:
                for client in (writer, near, far):
                    await client.synced.wait()

                for i in range(strokes):
                    key = f"s{i}"
                    sent[key] = time.monotonic()  # BoardClient stamps receipts likewise
                    await writer.draw(key, {"d": f"M {i} 0 L {i} 10", "color": "#000000",
                                            "width": 1})
                    await anyio.sleep(0.05)
                await far.wait_for(lambda: len(far.board()) >= strokes, timeout=30)
                await near.wait_for(lambda: len(near.board()) >= strokes, timeout=30)
                # Replay what each reader received to find when each stroke first arrived.
                for where, reader in (("same", near), ("other", far)):
                    arrived[where] = first_arrivals(reader)
        finally:
            a.stop()
            b.stop()
    return {where: [(seen[k] - sent[k]) * 1000 for k in sent] for where, seen in arrived.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--strokes", type=int, default=200)
    args = parser.parse_args()
    result = anyio.run(measure, args.strokes)
    for where, values in result.items():
        values.sort()
        p95 = values[int(0.95 * (len(values) - 1))]
        print(f"{where:>5} process: median {statistics.median(values):6.1f} ms, "
              f"p95 {p95:6.1f} ms, max {values[-1]:6.1f} ms over {len(values)} strokes")


if __name__ == "__main__":
    main()
