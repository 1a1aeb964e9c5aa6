"""Importing an SVG drawing as whiteboard strokes (`{"d", "color", "width"}` entries).

Coordinates are those of the root `<svg>`'s user space: viewBox units, or px
without a viewBox. The root's viewBox-to-viewport mapping (width, height,
preserveAspectRatio) is deliberately not applied: it only picks a display
size, the board has no page, and our export fits its own viewBox around the
strokes, so the drawing looks the same, uniformly scaled. Tools' scene units
survive that way (Excalidraw writes width/height at 2x its viewBox; strokes
keep the widths people chose). Every other transform is applied: `transform`
on the shape and its ancestors, `<use>` x/y, nested `<svg>` viewports.

Geometry library: svgelements (a dependency already) rather than svgpathtools,
because it also reads transform lists, CSS colour keywords and every basic
shape (rounded rects, circles and ellipses become exact arcs), which
svgpathtools leaves to its caller. We use its pieces, not `SVG.parse`: that
re-reads the text with the stdlib parser, expands `<use>` with no cycle check
or size bound (a self-reference recurses without end, nested uses grow
exponentially), draws the content of `<mask>` as if visible, and cannot say
what it skipped. Where svgelements is wrong we work around it, each noted
where it happens: arcs under skew or uneven scale (mapped in svg_pathdata),
S after Q / T after C, lenient or crashing path parsing, a quadratic
transform regex.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element

from svgelements import Circle, CubicBezier, Ellipse, Matrix, Path, QuadraticBezier, Rect, Viewbox

from .pathdata import DEFAULT_MAX_PATH_DATA, is_path_syntax
from .paths import MAX_WIDTH, invalid_reason
from .svg_export import exported_versions, is_pristine_export
from .svg_pathdata import poly_d, split_subpaths, to_d, valid_prefix
from .svg_style import RGBA, Paint, Style, StyleSheet, compute, declared, parse_color, parse_length
from .svg_xml import XLINK_NS, SvgError, local_name, parse_svg_xml

OUTLINE_WIDTH = 1.0  # stroke width given to shapes that are only filled (Excalidraw, tldraw ink)
_SHAPES = frozenset({"path", "rect", "circle", "ellipse", "line", "polyline", "polygon"})
_GROUPS = frozenset({"g", "a", "switch"})  # switch: every child is tried, not just the first
_DESCRIPTIVE = frozenset({"title", "desc", "metadata"})  # neither drawn nor counted as skipped
_GRADIENTS = frozenset({"linearGradient", "radialGradient"})
_T_WSP = "[ \t\r\n]*+"
_T_NUM = (
    r"(?>[-+]?(?:[0-9]++\.?+[0-9]*+|\.[0-9]++)(?:[eE][-+]?+[0-9]++)?+)(?:px|deg|rad|grad|turn)?+"
)
_T_ONE = (
    r"(?:matrix|translate|scale|rotate|skewX|skewY|translateX|translateY|scaleX|scaleY|skew)"
    rf"{_T_WSP}\({_T_WSP}{_T_NUM}(?:{_T_WSP},?+{_T_WSP}{_T_NUM})*+{_T_WSP}\)"
)
_TRANSFORM_RE = re.compile(rf"{_T_WSP}(?:{_T_ONE}(?:{_T_WSP},?+{_T_WSP}{_T_ONE})*+)?+{_T_WSP}")
_FLOAT_RE = re.compile(r"(?>[-+]?+(?:[0-9]++\.?+[0-9]*+|\.[0-9]++)(?:[eE][-+]?+[0-9]++)?+)")


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
            if name == "use" and (ref := _href(el)):
                self.used.add(ref)
            if name == "style" and el.get("type", "text/css").strip().lower() in ("text/css", ""):
                css.append("".join(el.itertext()))
        self.sheet = StyleSheet(css)
        self.paths: list[dict[str, Any]] = []
        self.skipped = 0
        self.reasons: Counter[str] = Counter()
        self.visits = 0
        self.on_path: set[int] = set()  # elements being drawn, to stop <use> cycles
        self.gradient_colors: dict[int, RGBA | None] = {}

    def run(self) -> ImportResult:
        root = self.root
        vb = _viewbox(root)
        if vb is not None:
            viewport = (vb.width, vb.height)
        else:
            w = parse_length(root.get("width", ""), percent_of=0) or 1000.0
            h = parse_length(root.get("height", ""), percent_of=0) or 1000.0
            viewport = (w, h)
        style = compute(
            Style(), declared(root, "svg", self.sheet), viewport_diagonal=_diag(viewport)
        )
        if not style.display_none:
            self._children(root, style, _transform(root.get("transform", "")), viewport, 1)
        return ImportResult(self.paths, self.skipped, dict(self.reasons))

    def _children(self, el: Element, style: Style, ctm: Matrix, vp: tuple, depth: int) -> None:
        self.on_path.add(id(el))
        for child in el:
            self._walk(child, style, ctm, vp, depth + 1)
        self.on_path.discard(id(el))

    def _walk(self, el: Element, parent: Style, ctm: Matrix, vp: tuple, depth: int) -> None:
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
        style = compute(parent, declared(el, name, self.sheet), viewport_diagonal=_diag(vp))
        if style.display_none:
            self.skipped += 1
            return
        ctm = _transform(el.attrib["transform"]) * ctm if "transform" in el.attrib else ctm
        if name in _SHAPES:
            self._shape(el, name, style, ctm, vp)
        elif name in _GROUPS:
            self._children(el, style, ctm, vp, depth)
        elif name == "svg":
            inner, vp = _viewport(el, vp)
            self._children(el, style, inner * ctm, vp, depth)
        else:
            self._use(el, style, ctm, vp, depth)

    def _counts_as_unused(self, el: Element) -> bool:
        ns, name = local_name(el.tag)
        if ns != self.svg_ns:
            return bool(name)
        return name not in _DESCRIPTIVE and el.get("id") not in self.used

    def _use(self, el: Element, style: Style, ctm: Matrix, vp: tuple, depth: int) -> None:
        target = self.ids.get(_href(el) or "")
        if target is None or target is el or id(target) in self.on_path:
            self.skipped += 1  # missing, external or circular reference
            return
        x = parse_length(el.get("x", "0"), percent_of=vp[0]) or 0.0
        y = parse_length(el.get("y", "0"), percent_of=vp[1]) or 0.0
        ctm = _translate(x, y) * ctm
        self.on_path.add(id(el))
        if local_name(target.tag)[1] == "symbol":
            sym = compute(
                style, declared(target, "symbol", self.sheet), viewport_diagonal=_diag(vp)
            )
            inner, vp = _viewport(target, vp, size_from=el)
            if not sym.display_none:
                self._children(target, sym, inner * ctm, vp, depth + 1)
        else:
            self._walk(target, style, ctm, vp, depth + 1)
        self.on_path.discard(id(el))

    def _shape(self, el: Element, name: str, style: Style, ctm: Matrix, vp: tuple) -> None:
        paint = self._paint(style, ctm, fillable=name != "line")  # a line has no inside
        path = _geometry(el, name, vp) if paint is not None else None
        d = None
        if isinstance(path, Path):
            d = to_d(path, ctm)
        elif path is not None:
            d = poly_d(path[0], path[1], ctm)
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

    def _paint(self, style: Style, ctm: Matrix, *, fillable: bool) -> tuple[str, float] | None:
        """Stroke colour and width of a shape: its stroke, else its fill as an outline."""
        if not style.visible:
            return None
        rgba = self._resolve(style.stroke, style.color)
        if rgba is not None and style.stroke_width > 0:
            scale = 1.0 if style.non_scaling_stroke else math.sqrt(abs(ctm.determinant))
            width = style.stroke_width * scale
            color = _hex(rgba, style.stroke_opacity * style.opacity)
            if color is not None and math.isfinite(width) and width > 0:
                return color, _clamp_width(width)
        rgba = self._resolve(style.fill, style.color) if fillable else None
        color = _hex(rgba, style.fill_opacity * style.opacity) if rgba is not None else None
        return (color, OUTLINE_WIDTH) if color is not None else None

    def _resolve(self, paint: Paint, color: RGBA) -> RGBA | None:
        if paint is None or paint == "currentColor":
            return None if paint is None else color
        if isinstance(paint[0], int):
            return paint  # type: ignore[return-value]
        _, ref, fallback = paint  # type: ignore[misc,str-unpack]  # ("url", id, fallback)
        server = self.ids.get(ref)
        if server is not None and local_name(server.tag)[1] in _GRADIENTS:
            return self._gradient_color(server)
        if fallback is not False:
            return self._resolve(fallback, color)
        # A pattern draws something we cannot keep: stand in with currentColor.
        return color if server is not None and local_name(server.tag)[1] == "pattern" else None

    def _gradient_color(self, grad: Element) -> RGBA | None:
        """The mean of a gradient's stop colours, following `href` to inherited stops."""
        key = id(grad)
        if key not in self.gradient_colors:
            seen: set[int] = set()
            stops: list[Element] = []
            el: Element | None = grad
            while el is not None and id(el) not in seen and not stops:
                seen.add(id(el))
                stops = [c for c in el if local_name(c.tag) == (self.svg_ns, "stop")]
                el = self.ids.get(_href(el) or "")
            colors = [self._stop_color(s) for s in stops]
            if colors:
                n = len(colors)
                mean = [sum(c[i] for c in colors) / n for i in range(4)]
                rgba = (round(mean[0]), round(mean[1]), round(mean[2]), mean[3])
                self.gradient_colors[key] = rgba
            else:
                self.gradient_colors[key] = None  # a gradient without stops paints nothing
        return self.gradient_colors[key]

    def _stop_color(self, stop: Element) -> RGBA:
        decl = declared(stop, "stop", self.sheet)
        r, g, b, a = parse_color(decl.get("stop-color", "black")) or (0, 0, 0, 1.0)
        opacity = decl.get("stop-opacity", "1")
        try:
            a *= min(max(float(opacity), 0.0), 1.0)
        except ValueError:
            pass
        return r, g, b, a


def _transform(text: str) -> Matrix:
    """A transform list as a Matrix; identity when it is not one (browsers ignore it then).

    Checked first with a linear-time pattern: svgelements' own regex backtracks
    quadratically on an unclosed `translate(1,translate(1,...`.
    """
    if _TRANSFORM_RE.fullmatch(text):
        try:
            return Matrix(text)
        except (ValueError, TypeError, IndexError, OverflowError, ZeroDivisionError):
            pass  # wrong argument counts, rotate(1e999)...
    return Matrix()


def _translate(x: float, y: float) -> Matrix:
    return Matrix(1, 0, 0, 1, x, y)


def _href(el: Element) -> str | None:
    ref = el.get("href") or el.get(f"{{{XLINK_NS}}}href") or ""
    return ref[1:].strip() if ref.startswith("#") else None  # other files are never read


def _diag(vp: tuple) -> float:
    return math.hypot(vp[0], vp[1]) / math.sqrt(2)  # never overflows: inf at worst


def _viewbox(el: Element) -> Viewbox | None:
    text = el.get("viewBox")
    if text is None:
        return None
    nums = _FLOAT_RE.findall(text)
    if len(nums) != 4 or float(nums[2]) <= 0 or float(nums[3]) <= 0:
        return None
    return Viewbox(text, el.get("preserveAspectRatio"))


def _viewport(el: Element, vp: tuple, *, size_from: Element | None = None) -> tuple[Matrix, tuple]:
    """Transform into a nested `<svg>` (or a `<symbol>` instance) and its viewport size."""
    sized = size_from if size_from is not None else el
    x = 0.0 if size_from is not None else parse_length(el.get("x", "0"), percent_of=vp[0]) or 0.0
    y = 0.0 if size_from is not None else parse_length(el.get("y", "0"), percent_of=vp[1]) or 0.0
    w = parse_length(sized.get("width", "100%"), percent_of=vp[0])
    h = parse_length(sized.get("height", "100%"), percent_of=vp[1])
    vb = _viewbox(el)
    if vb is None or not w or not h or w <= 0 or h <= 0:
        return _translate(x, y), (w or vp[0], h or vp[1])
    m = Viewbox.viewbox_transform(
        x, y, w, h, vb.x, vb.y, vb.width, vb.height, vb.preserve_aspect_ratio
    )
    return Matrix(m), (vb.width, vb.height)


def _geometry(el: Element, name: str, vp: tuple) -> Path | tuple[list, bool] | None:
    """The element's outline in its own coordinates: an svgelements Path, or for
    straight-edged shapes (points, closed), or None when it has no geometry."""
    w, h = vp

    def length(attr: str, of: float, default: float | None = 0.0) -> float | None:
        v = el.get(attr)
        x = parse_length(v, percent_of=of) if v is not None else None
        return default if x is None or not math.isfinite(x) else x

    if name == "path":
        return _parse_d(el.get("d", ""))
    if name == "rect":
        rw, rh = length("width", w), length("height", h)
        if not rw or not rh or rw <= 0 or rh <= 0:
            return None
        rx, ry = length("rx", w, None), length("ry", h, None)
        rx = ry if rx is None or rx < 0 else rx
        ry = rx if ry is None or ry < 0 else ry
        rx, ry = min(rx or 0.0, rw / 2), min(ry or 0.0, rh / 2)
        x, y = length("x", w) or 0.0, length("y", h) or 0.0
        if rx == 0 or ry == 0:
            return [(x, y), (x + rw, y), (x + rw, y + rh), (x, y + rh)], True
        return Path(Rect(x, y, rw, rh, rx=rx, ry=ry))
    if name in ("circle", "ellipse"):
        cx, cy = length("cx", w), length("cy", h)
        if name == "circle":
            r = length("r", _diag(vp))
            return Path(Circle(cx, cy, r)) if r and r > 0 else None
        rx, ry = length("rx", w, None), length("ry", h, None)
        rx, ry = (rx if rx is not None else ry), (ry if ry is not None else rx)
        return Path(Ellipse(cx, cy, rx, ry)) if rx and ry and rx > 0 and ry > 0 else None
    if name == "line":
        x1, y1, x2, y2 = (length(a, of) for a, of in (("x1", w), ("y1", h), ("x2", w), ("y2", h)))
        return [(x1, y1), (x2, y2)], False
    nums = [float(v) for v in _FLOAT_RE.findall(el.get("points", ""))]
    points = list(zip(nums[0::2], nums[1::2], strict=False))
    return (points, name == "polygon") if len(points) >= 2 else None


def _parse_d(d: str) -> Path | None:
    # svgelements is lenient (it draws "L 1 1" without a moveto, and can fail
    # oddly on broken input): it only ever sees valid path data, cut as SVG says
    # at the first error.
    # Not bounded by MAX_PATH_DATA: what counts is the length of the path data we write.
    if not is_path_syntax(d):
        d = valid_prefix(d)
        if not is_path_syntax(d):
            return None
    path = Path()
    path.parse(d)
    # svgelements reflects the previous control point for S after Q or T after C;
    # SVG reflects only a control point of the same kind of curve.
    prev = None
    for seg in path:
        if isinstance(seg, CubicBezier) and seg.smooth and not isinstance(prev, CubicBezier):
            seg.control1 = seg.start
        elif (
            isinstance(seg, QuadraticBezier)
            and seg.smooth
            and not isinstance(prev, QuadraticBezier)
        ):
            seg.control = seg.start
        prev = seg
    return path if len(path) else None


def _hex(rgba: RGBA, opacity: float) -> str | None:
    alpha = round(rgba[3] * opacity * 255)
    if alpha <= 0:
        return None
    rgb = f"#{rgba[0]:02x}{rgba[1]:02x}{rgba[2]:02x}"
    return rgb if alpha >= 255 else f"{rgb}{alpha:02x}"


def _clamp_width(width: float) -> float:
    return min(max(round(width, 3), 0.001), MAX_WIDTH)


def _normalised(entry: dict[str, Any]) -> dict[str, Any] | None:
    """What importing the `<path>` our export writes for `entry` gives back (None: nothing)."""
    color = entry["color"].lower()
    if color.endswith("ff") and len(color) == 9:
        color = color[:7]
    path = _parse_d(entry["d"])
    d = to_d(path, Matrix()) if path is not None else None
    if d is None or color.endswith("00") and len(color) == 9:
        return None
    return {"d": d, "color": color, "width": _clamp_width(entry["width"])}
