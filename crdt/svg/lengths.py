"""Lengths and numbers of SVG attributes and CSS values, in user units."""

from __future__ import annotations

import math
import re

from crdt.patterns import NUMBER

_LENGTH_RE = re.compile(rf"\s*+({NUMBER})\s*+(px|pt|pc|mm|cm|in|em|ex|%)?+\s*+", re.ASCII)
_UNIT_PX = {None: 1.0, "px": 1.0, "pt": 4 / 3, "pc": 16.0, "mm": 96 / 25.4, "cm": 96 / 2.54,
            "in": 96.0, "em": 16.0, "ex": 8.0}  # fmt: skip
_NUMBER_RE = re.compile(NUMBER)


def parse_length(value: str, *, percent_of: float) -> float | None:
    """A length in user units (96 px per inch, 16 px font), or None if it is not one."""
    m = _LENGTH_RE.fullmatch(value)
    if m is None:
        return None
    amount, unit = float(m.group(1)), m.group(2)
    x = amount * percent_of / 100 if unit == "%" else amount * _UNIT_PX[unit]
    return x if math.isfinite(x) else None


def parse_number(value: str) -> float | None:
    """A number or percentage as a fraction ("50%" → 0.5), or None."""
    m = _LENGTH_RE.fullmatch(value)
    if m is None or m.group(2) not in (None, "%"):
        return None
    x = float(m.group(1))
    if not math.isfinite(x):
        return None
    return x / 100 if m.group(2) == "%" else x


def numbers_in(text: str) -> list[str]:
    """Every number in a list of them (`points`, `viewBox`), whatever separates them."""
    return _NUMBER_RE.findall(text)
