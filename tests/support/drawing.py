"""What a test draws: one stroke's value, as a user's client would write it."""

from __future__ import annotations

from typing import Any


def stroke(n: int = 0, color: str = "#1e1e1e", *, d: str | None = None,
           width: float = 2) -> dict[str, Any]:
    """A stroke's value (no `ts`: the writer stamps it); `n` makes its path data its own."""
    return {"d": d if d is not None else f"M {n} 0 L {n} 10", "color": color, "width": width}
