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
from typing import Any
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape, quoteattr

from crdt.paths import PathEntry, Stroke, invalid_reason

from .pathdata import path_bounds
from .safe_xml import SVG_NS, WHITEBOARD_NS, local_name

MARGIN = 16  # user units around the drawing
EMPTY_VIEWBOX = (0, 0, 800, 600)
_HEX8_RE = re.compile(r"#[0-9a-fA-F]{8}")
_PATH_ATTRS = frozenset(
    {"d", "fill", "stroke", "stroke-opacity", "stroke-width", "stroke-linecap", "stroke-linejoin"}
)
_PLAIN_RE = re.compile(r"[0-9A-Za-z#.,+\- ]*")
# Characters XML 1.0 cannot carry at all, not even escaped.
_NOT_XML_CHAR_RE = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def export_svg(entries: Iterable[PathEntry], *, title: str | None = None) -> str:
    """The board as SVG text: live strokes ordered by ts then key, tombstones left out."""
    live = sorted(
        (e for e in entries if isinstance(e, Stroke) and _drawable(e)), key=lambda e: (e.ts, e.key)
    )
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
        color, opacity = _split_alpha(e.color)
        opacity = f' stroke-opacity="{opacity}"' if opacity else ""
        out.append(
            f'<path d={_attr(e.d)} fill="none" stroke={_attr(color)}{opacity} '
            f'stroke-width="{_num(float(e.width))}" '
            'stroke-linecap="round" stroke-linejoin="round"/>\n'
        )
    out.append("</svg>\n")
    return "".join(out)


def _drawable(e: Stroke) -> bool:
    # Entries also come from stored rows: their types are checked, not trusted.
    return (
        isinstance(e.d, str)
        and isinstance(e.color, str)
        and isinstance(e.width, int | float)
        and not isinstance(e.width, bool)
        and math.isfinite(e.width)
        and e.width > 0
    )


def _fit(live: list[Stroke]) -> tuple[int, int, int, int]:
    """Whole-unit viewBox corners around every stroke's path bounds plus half its width."""
    x0 = y0 = math.inf
    x1 = y1 = -math.inf
    for e in live:
        b = path_bounds(e.d)
        if b is None:
            continue
        half = e.width / 2
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


def _split_alpha(color: str) -> tuple[str, str | None]:
    """`#rrggbbaa` as `#rrggbb` and a stroke-opacity: SVG 1.1 has no 8-digit hex colours."""
    if not _HEX8_RE.fullmatch(color) or color[7:].lower() == "ff":
        return (color[:7] if _HEX8_RE.fullmatch(color) else color), None
    return color[:7], _num(round(int(color[7:], 16) / 255, 4))


def exported_versions(root: Element) -> list[dict[str, Any]] | None:
    """The exact versions an export of ours carries, if it is one and each is valid.

    Each `<path>` holds its version's `d` verbatim; `<metadata>` holds the colour
    and width of each, in the same order (so `d` is not written twice). All of it
    is untrusted input: every version is validated like any other.
    """
    ns = local_name(root.tag)[0]
    for meta in root.findall(f"{{{ns}}}metadata" if ns else "metadata"):
        for holder in meta.findall(f"{{{WHITEBOARD_NS}}}paths"):
            try:
                paints = json.loads(holder.text or "")
            except (ValueError, RecursionError):
                return None
            paths = list(root.iter(f"{{{ns}}}path" if ns else "path"))
            if not isinstance(paints, list) or len(paints) != len(paths):
                return None
            if not all(isinstance(p, dict) and set(p) == {"color", "width"} for p in paints):
                return None
            versions = [{"d": el.get("d"), **p} for el, p in zip(paths, paints, strict=True)]
            return versions if all(_valid_version(v) for v in versions) else None
    return None


def is_pristine_export(root: Element, versions: list[dict[str, Any]]) -> bool:
    """True if `root` is exactly what export_svg writes for `versions`, nothing added or changed.

    Then the versions can be taken as they are, without redoing any geometry; a
    document that another tool touched goes through the full import instead.
    """
    ns = local_name(root.tag)[0]
    if ns != SVG_NS or not set(root.attrib) <= {"version", "viewBox", "width", "height"}:
        return False
    children = [c for c in root if local_name(c.tag)[1] not in ("title", "metadata")]
    if len(children) != len(versions) or len(root) - len(children) > 2:
        return False
    for el, v in zip(children, versions, strict=True):
        color, opacity = _split_alpha(v["color"])
        if not (
            el.tag == f"{{{SVG_NS}}}path"
            and len(el) == 0
            and set(el.attrib) <= _PATH_ATTRS
            and el.get("fill") == "none"
            and el.get("stroke") == color
            and el.get("stroke-opacity") == opacity
            and el.get("stroke-width") == _num(float(v["width"]))
            and el.get("stroke-linecap") == el.get("stroke-linejoin") == "round"
        ):
            return False
    return True


def _valid_version(version: dict[str, Any]) -> bool:
    return invalid_reason("svg-import", {**version, "ts": 0.0}) is None


def _num(x: float) -> str:
    """A number as JavaScript prints it for the common cases: 2, not 2.0."""
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)


def _xml_chars(text: str) -> str:
    return _NOT_XML_CHAR_RE.sub("", text)


def _attr(value: object) -> str:
    text = str(value)
    if _PLAIN_RE.fullmatch(text):
        return f'"{text}"'  # path data and colours: nothing to escape, and it is most of the work
    return quoteattr(_xml_chars(text))
