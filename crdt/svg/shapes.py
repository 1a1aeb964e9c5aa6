"""The geometry of SVG elements: outlines of shapes, transforms, viewports and references.

Geometry library: svgelements (a dependency already) rather than svgpathtools,
because it also reads transform lists, CSS colour keywords and every basic
shape (rounded rects, circles and ellipses become exact arcs), which
svgpathtools leaves to its caller. Where svgelements is wrong we work around
it, each noted where it happens: S after Q / T after C, lenient or crashing
path parsing, a quadratic transform regex (and, in geometry.py, arcs under
skew or uneven scale).
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple
from xml.etree.ElementTree import Element

from svgelements import Circle, CubicBezier, Ellipse, Matrix, Path, QuadraticBezier, Rect, Viewbox

from crdt.patterns import NUMBER, is_path_syntax, path_syntax_prefix

from .lengths import numbers_in, parse_length
from .safe_xml import XLINK_NS

_T_WSP = "[ \t\r\n]*+"
_T_NUM = rf"{NUMBER}(?:px|deg|rad|grad|turn)?+"
_T_ONE = (
    r"(?:matrix|translate|scale|rotate|skewX|skewY|translateX|translateY|scaleX|scaleY|skew)"
    rf"{_T_WSP}\({_T_WSP}{_T_NUM}(?:{_T_WSP},?+{_T_WSP}{_T_NUM})*+{_T_WSP}\)"
)
_TRANSFORM_RE = re.compile(rf"{_T_WSP}(?:{_T_ONE}(?:{_T_WSP},?+{_T_WSP}{_T_ONE})*+)?+{_T_WSP}")


class Viewport(NamedTuple):
    """The size that percentages of lengths refer to, in user units."""

    width: float
    height: float

    @property
    def diagonal(self) -> float:
        """What a percentage of neither width nor height (`r`, `stroke-width`) refers to."""
        return math.hypot(self.width, self.height) / math.sqrt(2)  # never overflows: inf at worst


class Polyline(NamedTuple):
    """A straight-edged outline: a polygon when `closed`."""

    points: list[tuple[float, float]]
    closed: bool


def transform(text: str) -> Matrix:
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


def translate(x: float, y: float) -> Matrix:
    return Matrix(1, 0, 0, 1, x, y)


def href(el: Element) -> str | None:
    """The id an element refers to (`href` or `xlink:href`); None for other files, never read."""
    ref = el.get("href") or el.get(f"{{{XLINK_NS}}}href") or ""
    return ref[1:].strip() if ref.startswith("#") else None


def viewbox(el: Element) -> Viewbox | None:
    text = el.get("viewBox")
    if text is None:
        return None
    nums = numbers_in(text)
    if len(nums) != 4 or float(nums[2]) <= 0 or float(nums[3]) <= 0:
        return None
    return Viewbox(text, el.get("preserveAspectRatio"))


def viewport(
    el: Element, vp: Viewport, *, size_from: Element | None = None
) -> tuple[Matrix, Viewport]:
    """Transform into a nested `<svg>` (or a `<symbol>` instance) and its viewport size."""
    sized = size_from if size_from is not None else el
    x = y = 0.0
    if size_from is None:
        x = parse_length(el.get("x", "0"), percent_of=vp.width) or 0.0
        y = parse_length(el.get("y", "0"), percent_of=vp.height) or 0.0
    w = parse_length(sized.get("width", "100%"), percent_of=vp.width)
    h = parse_length(sized.get("height", "100%"), percent_of=vp.height)
    vb = viewbox(el)
    if vb is None or not w or not h or w <= 0 or h <= 0:
        return translate(x, y), Viewport(w or vp.width, h or vp.height)
    m = Viewbox.viewbox_transform(
        x, y, w, h, vb.x, vb.y, vb.width, vb.height, vb.preserve_aspect_ratio
    )
    return Matrix(m), Viewport(vb.width, vb.height)


def outline(el: Element, name: str, vp: Viewport) -> Path | Polyline | None:
    """The element's outline in its own coordinates: an svgelements Path, or a Polyline
    for straight-edged shapes, or None when it has no geometry."""
    if name == "path":
        return parse_d(el.get("d", ""))
    if name == "rect":
        return _rect(_Lengths(el, vp))
    if name in ("circle", "ellipse"):
        return _round(_Lengths(el, vp), name)
    if name == "line":
        length = _Lengths(el, vp)
        ends = (("x1", 0), ("y1", 1), ("x2", 0), ("y2", 1))
        x1, y1, x2, y2 = (length.at(attr, of) for attr, of in ends)
        return Polyline([(x1, y1), (x2, y2)], False)
    nums = [float(v) for v in numbers_in(el.get("points", ""))]
    points = list(zip(nums[0::2], nums[1::2], strict=False))
    return Polyline(points, name == "polygon") if len(points) >= 2 else None


class _Lengths:
    """An element's length attributes in user units, percentages of the viewport."""

    def __init__(self, el: Element, vp: Viewport) -> None:
        self.el = el
        self.of = (vp.width, vp.height, vp.diagonal)

    def __call__(self, attr: str, of: int, default: float | None = 0.0) -> float | None:
        """`of`: 0 width, 1 height, 2 diagonal."""
        v = self.el.get(attr)
        x = parse_length(v, percent_of=self.of[of]) if v is not None else None
        return default if x is None or not math.isfinite(x) else x

    def at(self, attr: str, of: int) -> float:
        """A coordinate: 0 when missing or invalid."""
        x = self(attr, of)
        return 0.0 if x is None else x


def _rect(length: _Lengths) -> Path | Polyline | None:
    rw, rh = length("width", 0), length("height", 1)
    if not rw or not rh or rw <= 0 or rh <= 0:
        return None
    rx, ry = length("rx", 0, None), length("ry", 1, None)
    rx = ry if rx is None or rx < 0 else rx
    ry = rx if ry is None or ry < 0 else ry
    rx, ry = min(rx or 0.0, rw / 2), min(ry or 0.0, rh / 2)
    x, y = length.at("x", 0), length.at("y", 1)
    if rx == 0 or ry == 0:
        return Polyline([(x, y), (x + rw, y), (x + rw, y + rh), (x, y + rh)], True)
    return Path(Rect(x, y, rw, rh, rx=rx, ry=ry))


def _round(length: _Lengths, name: str) -> Path | None:
    cx, cy = length.at("cx", 0), length.at("cy", 1)
    if name == "circle":
        r = length("r", 2)
        return Path(Circle(cx, cy, r)) if r and r > 0 else None
    rx, ry = length("rx", 0, None), length("ry", 1, None)
    rx, ry = (rx if rx is not None else ry), (ry if ry is not None else rx)
    return Path(Ellipse(cx, cy, rx, ry)) if rx and ry and rx > 0 and ry > 0 else None


def parse_d(d: str) -> Path | None:
    """Path data as an svgelements Path, drawn as SVG says up to its first error."""
    # svgelements is lenient (it draws "L 1 1" without a moveto, and can fail
    # oddly on broken input): it only ever sees valid path data.
    # Not bounded by MAX_PATH_DATA: what counts is the length of the path data we write.
    if not is_path_syntax(d):
        d = path_syntax_prefix(d)
        if not d:
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
