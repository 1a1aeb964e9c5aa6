"""Exporting a board as a standalone SVG 1.1 document.

One `<path>` per live stroke, oldest first, in a viewBox fitted around the
strokes. Each `<path>` carries its version's `d` verbatim and `<metadata>` the
exact colour and width of each as JSON, so that importing our own export gives
the versions back unchanged; other tools ignore the metadata.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from xml.sax.saxutils import escape, quoteattr

from .paths import PathEntry
from .svg_pathdata import path_bounds
from .svg_xml import SVG_NS, WHITEBOARD_NS

MARGIN = 16  # user units around the drawing
EMPTY_VIEWBOX = (0, 0, 800, 600)
_HEX8_RE = re.compile(r"#[0-9a-fA-F]{8}")
# Characters XML 1.0 cannot carry at all, not even escaped.
_NOT_XML_CHAR_RE = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def export_svg(entries: Iterable[PathEntry], *, title: str | None = None) -> str:
    """The board as SVG text: live strokes ordered by ts then key, tombstones left out."""
    live = sorted((e for e in entries if _drawable(e)), key=lambda e: (e.ts, e.key))
    x0, y0, x1, y1 = _fit(live)
    w, h = x1 - x0, y1 - y0
    # `d` is in each <path> verbatim; the metadata completes the versions, in order.
    paints = [{"color": e.color, "width": e.width} for e in live]
    payload = json.dumps(paints, ensure_ascii=True, separators=(",", ":"))
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<svg xmlns="{SVG_NS}" version="1.1" viewBox="{x0} {y0} {w} {h}" '
        f'width="{w}" height="{h}">\n',
    ]
    if title is not None:
        out.append(f"<title>{escape(_xml_chars(title))}</title>\n")
    out.append(
        f'<metadata><wb:paths xmlns:wb="{WHITEBOARD_NS}">{escape(payload)}</wb:paths></metadata>\n'
    )
    for e in live:
        color, opacity = _split_alpha(str(e.color))
        out.append(
            f'<path d={_attr(e.d)} fill="none" stroke={_attr(color)}{opacity} '
            f'stroke-width="{_num(float(e.width))}" '  # type: ignore[arg-type]
            'stroke-linecap="round" stroke-linejoin="round"/>\n'
        )
    out.append("</svg>\n")
    return "".join(out)


def _drawable(e: PathEntry) -> bool:
    return (
        not e.deleted
        and isinstance(e.d, str)
        and isinstance(e.color, str)
        and isinstance(e.width, int | float)
        and not isinstance(e.width, bool)
        and math.isfinite(e.width)
        and e.width > 0
    )


def _fit(live: list[PathEntry]) -> tuple[int, int, int, int]:
    """Whole-unit viewBox corners around every stroke's path bounds plus half its width."""
    x0 = y0 = math.inf
    x1 = y1 = -math.inf
    for e in live:
        b = path_bounds(e.d)  # type: ignore[arg-type]
        if b is None:
            continue
        half = e.width / 2  # type: ignore[operator]
        x0, y0 = min(x0, b[0] - half), min(y0, b[1] - half)
        x1, y1 = max(x1, b[2] + half), max(y1, b[3] + half)
    if x0 > x1 or not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        return EMPTY_VIEWBOX
    return (
        math.floor(x0) - MARGIN,
        math.floor(y0) - MARGIN,
        math.ceil(x1) + MARGIN,
        math.ceil(y1) + MARGIN,
    )


def _split_alpha(color: str) -> tuple[str, str]:
    """`#rrggbbaa` as `#rrggbb` plus a stroke-opacity attribute: SVG 1.1 has no 8-digit hex."""
    if not _HEX8_RE.fullmatch(color):
        return color, ""
    alpha = int(color[7:], 16)
    if alpha == 255:
        return color[:7], ""
    return color[:7], f' stroke-opacity="{_num(round(alpha / 255, 4))}"'


def _num(x: float) -> str:
    """A number as JavaScript prints it for the common cases: 2, not 2.0."""
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)


def _xml_chars(text: str) -> str:
    return _NOT_XML_CHAR_RE.sub("", text)


def _attr(value: object) -> str:
    return quoteattr(_xml_chars(str(value)))
