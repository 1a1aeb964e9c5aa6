"""Real `whiteboard serve` processes on free ports, and the HTTP calls a user makes first."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis

REPO = Path(__file__).resolve().parent.parent.parent

# Short intervals so that behaviour over time is tested in seconds, never by patching clocks.
FAST_ENV = {
    "WHITEBOARD_BATCH_INTERVAL_MS": "100",
    "WHITEBOARD_SNAPSHOT_INTERVAL_S": "1",
    "WHITEBOARD_ROOM_IDLE_S": "300",
    "WHITEBOARD_JWT_SECRET": "test-secret-" + "x" * 64,
    # Tests create many rooms from 127.0.0.1; the limit has tests of its own.
    "WHITEBOARD_MAX_ROOMS_PER_IP": "100000",
}

REDIS_URL = os.environ.get("WHITEBOARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServerProcess:
    """A `whiteboard serve` process of its own, in a data folder of its own."""

    data_dir: Path
    env: dict[str, str]
    port: int = 0
    process: subprocess.Popen | None = None
    # Appended to `whiteboard serve --port N` (e.g. ["--access-log"]).
    args: list[str] = field(default_factory=list)
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.data_dir / "server.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_base(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self, timeout: float = 60.0) -> ServerProcess:
        self.port = self.port or free_port()
        env = {**os.environ, **self.env}
        env.setdefault("WHITEBOARD_DATABASE_URL", f"sqlite:///{self.data_dir / 'whiteboard.db'}")
        env.setdefault("WHITEBOARD_DATA_DIR", str(self.data_dir))
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "server.cli", "serve", "--port", str(self.port),
                 *self.args],
                cwd=self.data_dir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=0.5).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError(f"server did not start in {timeout}s:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def kill9(self) -> None:
        self.stop(signal.SIGKILL)

    def env_for_cli(self) -> dict[str, str]:
        """The environment a `whiteboard` command needs to act on this server's data."""
        return {
            **os.environ,
            **self.env,
            "WHITEBOARD_DATABASE_URL": self.env.get(
                "WHITEBOARD_DATABASE_URL", f"sqlite:///{self.data_dir / 'whiteboard.db'}"
            ),
            "WHITEBOARD_DATA_DIR": str(self.data_dir),
        }

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""


def status_kb(pid: int, field_name: str = "VmRSS") -> int:
    """A process's memory figure from /proc/<pid>/status (VmRSS, VmHWM...), in kB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field_name} for process {pid}")


# A JWT's header is base64url JSON, so it always starts with `eyJ`.
JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def assert_no_token_logged(proc: ServerProcess) -> None:
    """Whatever a test did, the server's log holds no token (docs/protocol.md §8)."""
    leaked = JWT_SHAPE.findall(proc.log())
    assert not leaked, f"{len(leaked)} tokens in {proc.log_path}, e.g. {leaked[0][:20]}..."


@contextmanager
def redis_prefix() -> Iterator[str]:
    """A key prefix of its own for one test's servers; every key under it is deleted after."""
    prefix = f"wbtest-{uuid.uuid4().hex[:10]}"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def realtime_env(kind: str, prefix: str) -> dict[str, str]:
    if kind == "local":
        return {}
    return {"WHITEBOARD_REDIS_URL": REDIS_URL, "WHITEBOARD_REDIS_PREFIX": prefix}


@dataclass
class Joined:
    room_id: str
    token: str
    ws_url: str
    user: dict[str, str]
    body: dict[str, Any]


def create_room(server: ServerProcess, name: str = "Alice") -> Joined:
    response = httpx.post(f"{server.base_url}/api/rooms", json={"name": name})
    assert response.status_code == 201, response.text
    body = response.json()
    return Joined(body["room_id"], body["token"], body["ws_url"], body["user"], body)


def join_room(server: ServerProcess, room_id: str, name: str = "Bob") -> Joined:
    response = httpx.post(f"{server.base_url}/api/rooms/{room_id}/join", json={"name": name})
    assert response.status_code == 200, response.text
    body = response.json()
    return Joined(body["room_id"], body["token"], body["ws_url"], body["user"], body)
