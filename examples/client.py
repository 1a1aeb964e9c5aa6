"""A headless Python client for the whiteboard (pycrdt over the y-websocket protocol).

    python examples/client.py http://127.0.0.1:8000 --name Bot --draw 5

creates a room (or joins one with --room), draws a few strokes, waits until the server
has sent them back, and prints the board. The client itself is the one the tests play
users with, `tests/support/client.py`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import anyio
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.client import BoardClient  # noqa: E402

__all__ = ["BoardClient", "main"]


async def _demo(base_url: str, name: str, room: str | None, strokes: int) -> None:
    async with httpx.AsyncClient(base_url=base_url) as http:
        if room:
            answer = (await http.post(f"/api/rooms/{room}/join", json={"name": name})).json()
        else:
            answer = (await http.post("/api/rooms", json={"name": name})).json()
            print("invite:", answer["invite_url"])
    async with BoardClient(answer["ws_url"], answer["token"]) as client:
        await client.synced.wait()
        for i in range(strokes):
            await client.draw(f"demo-{time.time_ns()}",
                              {"d": f"M {10 * i} 10 L {10 * i + 50} 60", "color": "#1e1e1e",
                               "width": 2})
        await client.set_awareness({"user": {"name": name}, "cursor": {"x": 10, "y": 10}})
        await client.wait_for_echo()  # the server has merged and stored the strokes
        for entry in client.board().values():
            print(entry)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("base_url")
    parser.add_argument("--name", default="Bot")
    parser.add_argument("--room")
    parser.add_argument("--draw", type=int, default=3)
    args = parser.parse_args()
    anyio.run(_demo, args.base_url, args.name, args.room, args.draw)


if __name__ == "__main__":
    main()
