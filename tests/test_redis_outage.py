"""Redis goes away and comes back: drawing goes on, nothing is lost, the relay resumes."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.support.client import BoardClient
from tests.support.drawing import stroke
from tests.support.servers import create_room, free_port, join_room
from tests.support.waiting import until

pytestmark = pytest.mark.anyio


class RedisServer:
    """A redis-server of this test's own, on a free port, that it can stop and restart."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port),
             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            probe = subprocess.run(["redis-cli", "-p", str(self.port), "ping"],
                                   capture_output=True, text=True)
            if probe.stdout.strip() == "PONG":
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


async def test_drawing_survives_a_redis_restart_and_the_relay_catches_up(
    server_factory, tmp_path, own_redis
):
    env = {"WHITEBOARD_REDIS_URL": own_redis.url, "WHITEBOARD_PRESENCE_TTL_S": "3",
           "WHITEBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'shared.db'}"}
    a_server, b_server = server_factory(**env), server_factory(**env)
    alice = create_room(a_server, "Alice")
    anna = join_room(a_server, alice.room_id, "Anna")
    bob = join_room(b_server, alice.room_id, "Bob")
    on_a = f"{a_server.ws_base}/{alice.room_id}"
    on_b = f"{b_server.ws_base}/{alice.room_id}"
    async with BoardClient(on_a, alice.token) as a1, BoardClient(on_a, anna.token) as a2, \
            BoardClient(on_b, bob.token) as b:
        for client in (a1, a2, b):
            await client.synced.wait()
        await a1.draw("before", stroke(0))
        await b.wait_for(lambda: "before" in b.board())

        own_redis.stop()
        ready = httpx.get(f"{a_server.base_url}/readyz")
        assert ready.status_code == 503 and "redis" in ready.json()["detail"]
        # Clients on one process keep drawing together while Redis is away.
        for i in range(5):
            await a1.draw(f"during-a{i}", stroke(i))
        await b.draw("during-b", stroke(50))
        await a2.wait_for(lambda: all(f"during-a{i}" in a2.board() for i in range(5)))

        own_redis.start()
        await until(lambda: httpx.get(f"{a_server.base_url}/readyz").status_code == 200,
                    timeout=15, interval=0.1, what="ready again once Redis is back")
        # Both sides catch up from the shared log, without a restart.
        expected = {"before", "during-b", *(f"during-a{i}" for i in range(5))}
        await b.wait_for(lambda: set(b.board()) == expected, timeout=15)
        await a1.wait_for(lambda: set(a1.board()) == expected, timeout=15)
        # And the relay carries new strokes again.
        await a2.draw("after", stroke(99))
        await b.wait_for(lambda: "after" in b.board(), timeout=10)

        # Presence comes back on its own too.
        headers = {"Authorization": f"Bearer {alice.token}"}
        def everyone_present() -> bool:
            users = httpx.get(f"{b_server.base_url}/api/rooms/{alice.room_id}/presence",
                              headers=headers).json()["users"]
            return sorted(u["name"] for u in users) == ["Alice", "Anna", "Bob"]

        await until(everyone_present, timeout=15, interval=0.2, what="presence back")
