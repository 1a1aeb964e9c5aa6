"""Where the server's time goes, from a py-spy raw profile (collapsed stacks).

    python bench/runner/hotspots.py bench/results/raw/profile-s1.txt [N]

Prints self time per function, then samples grouped by activity (the first
rule in CATEGORIES that matches any frame of the stack).
"""

import sys
from collections import Counter

CATEGORIES = [
    ("SQL / storage thread (to_thread)", ("WorkerThread.run", "persistence/")),
    ("batch flush + broadcast", ("Room.flush", "Room._batch_loop", "Room._broadcast")),
    (
        "per-client sender (outbox -> websocket send)",
        (
            "run_sender",
            "Room._send_loop",
            "StarletteTransport.send",
            "WebSocketsSansIOProtocol.send",
        ),
    ),
    ("awareness apply/encode", ("RoomAwareness", "crdt/awareness.py")),
    (
        "document update apply + upkeep",
        ("_apply_client_update", "Doc.apply_update", "Room._upkeep", "crdt/paths.py"),
    ),
    (
        "receive path (websocket frame -> message)",
        (
            "Room._receive_loop",
            "StarletteTransport.receive",
            "data_received",
            "WebSocket.receive",
            "decode_message",
        ),
    ),
    ("HTTP / ASGI plumbing", ("fastapi/", "starlette/", "uvicorn/protocols/http")),
    ("asyncio event loop (scheduling, epoll, callbacks)", ("asyncio/", "Runner.run", "anyio/")),
]


def main(path: str, n: int = 25) -> None:
    self_t, cats, total = Counter(), Counter(), 0
    for line in open(path):
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack:
            continue
        c = int(count)
        total += c
        frames = stack.split(";")
        self_t[frames[-1]] += c
        for name, keys in CATEGORIES:
            if any(k in f for f in frames for k in keys):
                cats[name] += c
                break
        else:
            cats["other"] += c
    print(f"{total} samples (GIL-holding only)")
    print("by activity:")
    for name, c in cats.most_common():
        print(f"  {100 * c / total:5.1f}%  {name}")
    print("self time, top functions:")
    for f, c in self_t.most_common(n):
        print(f"  {100 * c / total:5.1f}%  {f}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 25)
