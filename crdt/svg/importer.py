"""Importing an SVG drawing as whiteboard strokes (`{"d", "color", "width"}` entries).

Coordinates are those of the root `<svg>`'s user space: viewBox units, or px
without a viewBox. The root's viewBox-to-viewport mapping (width, height,
preserveAspectRatio) is deliberately not applied: it only picks a display
size, the board has no page, and our export fits its own viewBox around the
strokes, so the drawing looks the same, uniformly scaled. Tools' scene units
survive that way (Excalidraw writes width/height at 2x its viewBox; strokes
keep the widths people chose). Every other transform is applied: `transform`
on the shape and its ancestors, `<use>` x/y, nested `<svg>` viewports.

We use svgelements' pieces (shapes.py), not `SVG.parse`: that re-reads the
text with the stdlib parser, expands `<use>` with no cycle check or size bound
(a self-reference recurses without end, nested uses grow exponentially), draws
the content of `<mask>` as if visible, and cannot say what it skipped.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element

from svgelements import Matrix, Path

from crdt.paths import DEFAULT_MAX_PATH_DATA, invalid_reason

from .css import StyleSheet
from .exporter import exported_versions, is_pristine_export
from .geometry import poly_d, split_subpaths, to_d
from .lengths import parse_length
from .safe_xml import SvgError, local_name, parse_svg_xml
from .shapes import Viewport, href, outline, parse_d, transform, translate, viewbox, viewport
from .stroke_paint import StrokePainter, clamp_width
from .style import Style, compute, declared

_SHAPES = frozenset({"path", "rect", "circle", "ellipse", "line", "polyline", "polygon"})
_GROUPS = frozenset({"g", "a", "switch"})  # switch: every child is tried, not just the first
_DESCRIPTIVE = frozenset({"title", "desc", "metadata"})  # neither drawn nor counted as skipped


@dataclass
class ImportResult:
    """Imported strokes in document order, and how many elements were not imported as is.

    `skipped_elements` counts elements that draw nothing we can keep: text,
    images, gradients, clip paths, masks, styles, hidden or unpainted shapes,
    unused `<defs>` entries, foreign-namespace elements. A skipped subtree
    counts once. Titles, descriptions and metadata are not counted.

    It also counts each shape whose path data came out longer than
    `max_path_data` characters: split at subpath starts into several strokes
    that each fit (the strokes are in `paths`), or left out when a single
    subpath is longer. `skipped_reasons` says how many of each, by reason
    ("split: ..." or "skipped: ..."); other skips carry no reason there.
    """

    paths: list[dict[str, Any]]
    skipped_elements: int
    skipped_reasons: dict[str, int] = field(default_factory=dict)


def import_svg(
    data: bytes | str,
    *,
    max_bytes: int,
    max_elements: int = 50_000,
    max_depth: int = 64,
    max_path_data: int = DEFAULT_MAX_PATH_DATA,
) -> ImportResult:
    """Read an untrusted SVG upload into stroke entries (without `ts`: the caller stamps it).

    Every entry's `d` is at most `max_path_data` characters (docs/protocol.md
    §3 `MAX_PATH_DATA`): a longer one is split or skipped, and counted.
    Raises SvgTooLarge over `max_bytes` (checked before parsing), SvgError for
    anything that is not a safe, well-formed SVG document within the limits.
    """
    root = parse_svg_xml(data, max_bytes=max_bytes, max_elements=max_elements, max_depth=max_depth)
    exact = exported_versions(root)
    if exact is not None and any(len(v["d"]) > max_path_data for v in exact):
        exact = None  # an export from a board with a higher limit: its long paths are split
    if exact is not None and is_pristine_export(root, exact):
        return ImportResult(exact, 0)  # our own export, untouched: no geometry to redo
    result = _Walker(
        root, max_visits=max_elements, max_depth=2 * max_depth, max_path_data=max_path_data
    ).run()
    if exact is not None and [n for e in exact if (n := _normalised(e))] == result.paths:
        # Our export, re-saved by a tool that kept the drawing: still the exact versions.
        return ImportResult(exact, result.skipped_elements, result.skipped_reasons)
    return result


class _Walker:
    def __init__(
        self, root: Element, *, max_visits: int, max_depth: int, max_path_data: int
    ) -> None:
        self.root = root
        self.max_path_data = max_path_data
        self.svg_ns = local_name(root.tag)[0]
        self.max_visits = max_visits
        self.max_depth = max_depth
        self.ids: dict[str, Element] = {}
        self.used: set[str] = set()
        css: list[str] = []
        for el in root.iter():
            ns, name = local_name(el.tag)
            if ns != self.svg_ns:
                continue
            ident = el.get("id")
            if ident and ident not in self.ids:
                self.ids[ident] = el
            if name == "use" and (ref := href(el)):
                self.used.add(ref)
            if name == "style" and el.get("type", "text/css").strip().lower() in ("text/css", ""):
                css.append("".join(el.itertext()))
        self.sheet = StyleSheet(css)
        self.paths: list[dict[str, Any]] = []
        self.skipped = 0
        self.reasons: Counter[str] = Counter()
        self.visits = 0
        self.on_path: set[int] = set()  # elements being drawn, to stop <use> cycles
        self.painter = StrokePainter(ids=self.ids, svg_ns=self.svg_ns, sheet=self.sheet)

    def run(self) -> ImportResult:
        root = self.root
        vb = viewbox(root)
        if vb is not None:
            vp = Viewport(vb.width, vb.height)
        else:
            w = parse_length(root.get("width", ""), percent_of=0) or 1000.0
            h = parse_length(root.get("height", ""), percent_of=0) or 1000.0
            vp = Viewport(w, h)
        style = compute(Style(), declared(root, "svg", self.sheet), viewport_diagonal=vp.diagonal)
        if not style.display_none:
            self._children(root, style, transform(root.get("transform", "")), vp, 1)
        return ImportResult(self.paths, self.skipped, dict(self.reasons))

    def _children(self, el: Element, style: Style, ctm: Matrix, vp: Viewport, depth: int) -> None:
        self.on_path.add(id(el))
        for child in el:
            self._walk(child, style, ctm, vp, depth + 1)
        self.on_path.discard(id(el))

    def _walk(self, el: Element, parent: Style, ctm: Matrix, vp: Viewport, depth: int) -> None:
        self.visits += 1
        if self.visits > self.max_visits:
            raise SvgError(f"SVG draws more than {self.max_visits} elements once <use> is expanded")
        if depth > self.max_depth:
            raise SvgError(f"SVG nests deeper than {self.max_depth} levels once <use> is expanded")
        ns, name = local_name(el.tag)
        if ns != self.svg_ns or name in _DESCRIPTIVE:
            self.skipped += ns != self.svg_ns
            return
        if name == "defs":
            self.skipped += sum(1 for c in el if self._counts_as_unused(c))
            return
        if name not in _SHAPES and name not in _GROUPS and name not in ("svg", "use"):
            # text, image, style, script, gradients, clipPath, mask, marker, pattern, symbol...
            self.skipped += name != "symbol" or el.get("id") not in self.used
            return
        style = compute(parent, declared(el, name, self.sheet), viewport_diagonal=vp.diagonal)
        if style.display_none:
            self.skipped += 1
            return
        ctm = transform(el.attrib["transform"]) * ctm if "transform" in el.attrib else ctm
        if name in _SHAPES:
            self._shape(el, name, style, ctm, vp)
        elif name in _GROUPS:
            self._children(el, style, ctm, vp, depth)
        elif name == "svg":
            inner, vp = viewport(el, vp)
            self._children(el, style, inner * ctm, vp, depth)
        else:
            self._use(el, style, ctm, vp, depth)

    def _counts_as_unused(self, el: Element) -> bool:
        ns, name = local_name(el.tag)
        if ns != self.svg_ns:
            return bool(name)
        return name not in _DESCRIPTIVE and el.get("id") not in self.used

    def _use(self, el: Element, style: Style, ctm: Matrix, vp: Viewport, depth: int) -> None:
        target = self.ids.get(href(el) or "")
        if target is None or target is el or id(target) in self.on_path:
            self.skipped += 1  # missing, external or circular reference
            return
        x = parse_length(el.get("x", "0"), percent_of=vp.width) or 0.0
        y = parse_length(el.get("y", "0"), percent_of=vp.height) or 0.0
        ctm = translate(x, y) * ctm
        self.on_path.add(id(el))
        if local_name(target.tag)[1] == "symbol":
            sym = compute(
                style, declared(target, "symbol", self.sheet), viewport_diagonal=vp.diagonal
            )
            inner, vp = viewport(target, vp, size_from=el)
            if not sym.display_none:
                self._children(target, sym, inner * ctm, vp, depth + 1)
        else:
            self._walk(target, style, ctm, vp, depth + 1)
        self.on_path.discard(id(el))

    def _shape(self, el: Element, name: str, style: Style, ctm: Matrix, vp: Viewport) -> None:
        paint = self.painter.stroke(style, ctm, fillable=name != "line")  # a line has no inside
        path = outline(el, name, vp) if paint is not None else None
        d = None
        if isinstance(path, Path):
            d = to_d(path, ctm)
        elif path is not None:
            d = poly_d(path, ctm)
        if not d or paint is None:
            self.skipped += 1  # nothing drawn
            return
        pieces: list[str] | None = [d]
        too_long = len(d) > self.max_path_data
        if too_long:
            # Each subpath opens with an absolute moveto (to_d, poly_d): a piece draws alone
            # what it drew in the whole.
            pieces = split_subpaths(d, self.max_path_data)
        entries = [{"d": p, "color": paint[0], "width": paint[1]} for p in pieces or ()]
        if not entries or any(self._invalid(entry) for entry in entries):
            self.skipped += 1
            if too_long:
                self.reasons[
                    f"skipped: path data longer than {self.max_path_data} characters, "
                    "even for a single subpath"
                ] += 1
            return
        if too_long:
            self.skipped += 1
            self.reasons[f"split: path data longer than {self.max_path_data} characters"] += 1
        self.paths.extend(entries)

    def _invalid(self, entry: dict[str, Any]) -> bool:
        version = {**entry, "ts": 0.0}
        return invalid_reason("imported", version, max_path_data=self.max_path_data) is not None

def _normalised(entry: dict[str, Any]) -> dict[str, Any] | None:
    """What importing the `<path>` our export writes for `entry` gives back (None: nothing)."""
    color = entry["color"].lower()
    if color.endswith("ff") and len(color) == 9:
        color = color[:7]
    path = parse_d(entry["d"])
    d = to_d(path, Matrix()) if path is not None else None
    if d is None or color.endswith("00") and len(color) == 9:
        return None
    return {"d": d, "color": color, "width": clamp_width(entry["width"])}
