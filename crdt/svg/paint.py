"""Colours and paints of SVG: `fill` and `stroke` values, `color`, `stop-color`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from svgelements import Color

from .lengths import parse_number

RGBA = tuple[int, int, int, float]


@dataclass(frozen=True, slots=True)
class Solid:
    """A colour."""

    rgba: RGBA


@dataclass(frozen=True, slots=True)
class CurrentColor:
    """`currentColor`: the element's `color` property."""


@dataclass(frozen=True, slots=True)
class NoPaint:
    """`none`."""


@dataclass(frozen=True, slots=True)
class PaintServer:
    """`url(#ref) fallback`: a gradient or a pattern; `fallback` is None when none is given."""

    ref: str
    fallback: Paint | None


Paint = Solid | CurrentColor | NoPaint | PaintServer
NO_PAINT = NoPaint()
CURRENT_COLOR = CurrentColor()
BLACK: RGBA = (0, 0, 0, 1.0)

# svgelements 1.9.6 has a wrong aliceblue and lacks the CSS 4 keyword.
_KEYWORD_FIXES: dict[str, RGBA] = {
    "aliceblue": (240, 248, 255, 1.0),
    "rebeccapurple": (102, 51, 153, 1.0),
}
_HEX_RE = re.compile(r"#([0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})", re.ASCII)
_FUNC_RE = re.compile(r"(rgba?|hsla?)\(([^()]*)\)", re.ASCII | re.IGNORECASE)
_URL_RE = re.compile(r"url\(\s*+['\"]?+#([^'\")]++)['\"]?+\s*+\)\s*+(.*)", re.DOTALL)


def parse_color(value: str) -> RGBA | None:
    """`#rgb[a]`, `#rrggbb[aa]`, `rgb[a]()`, `hsl[a]()` or a colour keyword; None if invalid."""
    v = value.strip()
    if _HEX_RE.fullmatch(v):
        h = v[1:]
        if len(h) <= 4:
            h = "".join(c * 2 for c in h)
        a = int(h[6:8], 16) / 255 if len(h) == 8 else 1.0
        return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16), a
    m = _FUNC_RE.fullmatch(v)
    if m:
        return _color_function(m.group(1).lower(), m.group(2))
    if not v.isalpha():
        return None
    return _keyword(v.lower())


def _keyword(name: str) -> RGBA | None:
    # svgelements knows the CSS keywords but answers black for unknown names.
    if name in _KEYWORD_FIXES:
        return _KEYWORD_FIXES[name]
    c = Color(name)
    if c.value is None or (c.value == Color.rgb_to_int(0, 0, 0) and name != "black"):
        return None
    return c.red, c.green, c.blue, c.alpha / 255


def _color_function(func: str, args: str) -> RGBA | None:
    parts = [p for p in re.split(r"\s*[,/\s]\s*", args.strip()) if p]
    if len(parts) not in (3, 4):
        return None
    alpha = 1.0
    if len(parts) == 4:
        a = parse_number(parts[3])
        if a is None:
            return None
        alpha = min(max(a, 0.0), 1.0)
    if func.startswith("rgb"):
        rgb = _rgb_channels(parts[:3])
        return None if rgb is None else (rgb[0], rgb[1], rgb[2], alpha)
    c = Color(f"hsl({parts[0]}, {parts[1]}, {parts[2]})")
    if not parts[1].endswith("%") or not parts[2].endswith("%") or c.value is None:
        return None
    return c.red, c.green, c.blue, alpha


def _rgb_channels(parts: list[str]) -> list[int] | None:
    rgb = []
    for p in parts:
        n = parse_number(p)
        if n is None:
            return None
        n = n * 255 if p.endswith("%") else n
        rgb.append(int(round(min(max(n, 0.0), 255.0))))
    return rgb


@lru_cache(maxsize=4096)
def parse_paint(value: str) -> Paint | None:
    """A fill/stroke value as a Paint, or None when the value is invalid."""
    v = value.strip()
    low = v.lower()
    if low == "none":
        return NO_PAINT
    if low == "currentcolor":
        return CURRENT_COLOR
    if low.startswith("url("):
        m = _URL_RE.fullmatch(v)
        if m is None:
            return None
        fallback = parse_paint(m.group(2)) if m.group(2).strip() else None
        return PaintServer(m.group(1).strip(), fallback)
    color = parse_color(v)
    return None if color is None else Solid(color)
