"""Drive a real Yjs client (tests/js/client.mjs) from a test: one JSON line per command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import Process
from anyio.streams.text import TextReceiveStream

JS_DIR = Path(__file__).resolve().parent.parent / "js"


class JsClient:
    def __init__(self, ws_base: str, room_id: str, token: str, name: str) -> None:
        self.argv = [
            shutil.which("node") or "node",
            str(JS_DIR / "client.mjs"),
            ws_base,
            room_id,
            token,
            name,
        ]
        self.events: list[dict[str, Any]] = []
        self._replies: dict[int, dict[str, Any]] = {}
        self._next_id = 0
        self._changed = anyio.Event()
        self._process: Process | None = None

    async def __aenter__(self) -> JsClient:
        self._process = await anyio.open_process(self.argv, cwd=JS_DIR)
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._read)
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        assert self._process is not None
        with anyio.move_on_after(3):
            await self.command("quit")
            await self._process.wait()
        if self._process.returncode is None:
            self._process.kill()
        self._tg.cancel_scope.cancel()
        await self._tg.__aexit__(None, None, None)
        await self._process.aclose()

    async def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        buffer = ""
        async for chunk in TextReceiveStream(self._process.stdout):
            buffer += chunk
            *lines, buffer = buffer.split("\n")
            for line in lines:
                message = json.loads(line)
                if "id" in message:
                    self._replies[message["id"]] = message
                else:
                    self.events.append(message)
                self._changed.set()
                self._changed = anyio.Event()

    async def command(self, op: str, **fields: Any) -> dict[str, Any]:
        assert self._process is not None and self._process.stdin is not None
        self._next_id += 1
        ident = self._next_id
        await self._process.stdin.send(
            (json.dumps({"id": ident, "op": op, **fields}) + "\n").encode()
        )
        with anyio.fail_after(10):
            while ident not in self._replies:
                await self._changed.wait()
        return self._replies.pop(ident)

    async def wait_event(self, predicate, timeout: float = 10.0) -> dict[str, Any]:
        with anyio.fail_after(timeout):
            while True:
                for event in self.events:
                    if predicate(event):
                        return event
                await self._changed.wait()

    async def wait_state(self, predicate, timeout: float = 10.0) -> dict[str, Any]:
        """Poll the client's document until `predicate(state)` holds."""
        with anyio.fail_after(timeout):
            while True:
                state = await self.command("state")
                if predicate(state):
                    return state
                await anyio.sleep(0.05)
