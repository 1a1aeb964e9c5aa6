"""Reading the server's Prometheus counters from its public /metrics endpoint."""

from __future__ import annotations

import httpx


def parse(text: str) -> dict[str, float]:
    """Every `whiteboard_*` sample of a /metrics page, by its name with labels."""
    values = {}
    for line in text.splitlines():
        if line.startswith("whiteboard_") and " " in line:
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def metrics(server) -> dict[str, float]:
    return parse(httpx.get(f"{server.base_url}/metrics").text)


async def metrics_async(http: httpx.AsyncClient) -> dict[str, float]:
    """The same from an async client whose base URL is the server's."""
    return parse((await http.get("/metrics")).text)


def metric(server, name: str) -> float:
    """One sample (`name` with its labels, if any); fails the test if the server has none."""
    values = metrics(server)
    if name not in values:
        raise AssertionError(f"no metric {name}")
    return values[name]
