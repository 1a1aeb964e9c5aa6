"""Path data written from svgelements geometry: compact, absolute, at most 3 decimals.

Every subpath opens with an absolute moveto, so split_subpaths can cut what
to_d and poly_d write into pieces that each draw alone what they drew in the
whole.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from svgelements import Arc, Close, CubicBezier, Line, Matrix, Move, Path, Point, QuadraticBezier

from .shapes import Polyline


def fmt(x: float) -> str:
    """A number with at most 3 decimals, no trailing zeros, never "-0"."""
    r = round(x, 3)
    if r == 0:
        return "0"
    return f"{r:.3f}".rstrip("0").rstrip(".")


def to_d(path: Path, m: Matrix) -> str | None:
    """Absolute, compact path data of untransformed geometry under matrix `m`; None if nothing
    is drawn.

    Points are mapped here rather than by svgelements' reify, which maps an arc's
    axis end points and so gets skewed or non-uniformly scaled arcs wrong: the
    image of an ellipse under an affine map has other axes, found below.
    """
    a, b, c, dd, e, f = m.a, m.b, m.c, m.d, m.e, m.f
    flip = a * dd - b * c < 0
    parts: list[str] = []
    nums: list[float] = []
    drawn = started = False

    def pt(p: Point) -> None:
        nums.extend((a * p.x + c * p.y + e, b * p.x + dd * p.y + f))

    for seg in path:
        if isinstance(seg, Move):
            parts.append("M %s %s")
            pt(seg.end)
            started = True
            continue
        if not started:
            return None  # path data must start with a moveto
        drawn = True
        part = _drawto(seg, pt, nums, m, flip)
        if part is None:  # pragma: no cover - svgelements has no other segment types
            return None
        parts.append(part)
    if not drawn or not all(math.isfinite(x) for x in nums):
        return None
    return " ".join(parts) % tuple(fmt(x) for x in nums)


def _drawto(
    seg: object, pt: Callable[[Point], None], nums: list[float], m: Matrix, flip: bool
) -> str | None:
    """The command template of one segment; its numbers go to `nums` (by `pt`)."""
    if isinstance(seg, Close):
        return "Z"
    if isinstance(seg, Line):
        pt(seg.end)
        return "L %s %s"
    if isinstance(seg, QuadraticBezier):
        pt(seg.control)
        pt(seg.end)
        return "Q %s %s %s %s"
    if isinstance(seg, CubicBezier):
        pt(seg.control1)
        pt(seg.control2)
        pt(seg.end)
        return "C %s %s %s %s %s %s"
    if isinstance(seg, Arc):
        large = int(abs(seg.sweep) > math.pi)
        sweep = int((seg.sweep >= 0) != flip)
        nums.extend(_mapped_ellipse(seg.rx, seg.ry, float(seg.get_rotation()), m.a, m.b, m.c, m.d))
        pt(seg.end)
        return f"A %s %s %s {large} {sweep} %s %s"
    return None


def poly_d(line: Polyline, m: Matrix) -> str | None:
    """Path data of a polyline (or polygon when closed) under matrix `m`."""
    a, b, c, d, e, f = m.a, m.b, m.c, m.d, m.e, m.f
    nums = [v for x, y in line.points for v in (a * x + c * y + e, b * x + d * y + f)]
    if len(line.points) < 2 or not all(math.isfinite(v) for v in nums):
        return None
    text = " L ".join(f"{fmt(nums[i])} {fmt(nums[i + 1])}" for i in range(0, len(nums), 2))
    return f"M {text} Z" if line.closed else f"M {text}"


def split_subpaths(d: str, max_chars: int) -> list[str] | None:
    """Path data as `to_d` and `poly_d` write it (absolute, every subpath opened by "M ")
    cut at subpath starts into as few pieces of at most `max_chars` characters as greedy
    packing gives, or None when some subpath alone is longer.

    The pieces, joined with a space, are `d` less its subpaths that are a lone
    moveto (they draw nothing). Every piece starts with an absolute moveto, so it
    draws on its own what it drew inside `d`.
    """
    if "m" in d:
        raise ValueError("split_subpaths takes absolute path data (no relative moveto)")
    starts = [m.start() for m in _MOVETO_RE.finditer(d)]
    if not starts or d[: starts[0]].strip():
        raise ValueError("path data must start with M")
    bounds = zip(starts, [*starts[1:], len(d)], strict=True)
    subpaths = [d[i:j].strip() for i, j in bounds]
    pieces: list[str] = []
    current = ""
    for sub in subpaths:
        if _LONE_MOVETO_RE.fullmatch(sub):
            continue
        if len(sub) > max_chars:
            return None
        if current and len(current) + 1 + len(sub) <= max_chars:
            current = f"{current} {sub}"
        else:
            if current:
                pieces.append(current)
            current = sub
    if current:
        pieces.append(current)
    return pieces


_MOVETO_RE = re.compile("M")
_LONE_MOVETO_RE = re.compile(r"M[^A-Za-z]*+")


def _mapped_ellipse(
    rx: float, ry: float, rot: float, a: float, b: float, c: float, d: float
) -> tuple[float, float, float]:
    """Radii and rotation (degrees) of the ellipse (rx, ry, rot) under the linear map [a c; b d]."""
    cos, sin = math.cos(rot), math.sin(rot)
    # columns of L·R(rot)·diag(rx, ry): the images of the two semi-axes (conjugate diameters)
    m00, m10 = (a * cos + c * sin) * rx, (b * cos + d * sin) * rx
    m01, m11 = (-a * sin + c * cos) * ry, (-b * sin + d * cos) * ry
    # the new axes are the eigenvectors of M·Mᵀ, the radii the square roots of its eigenvalues
    s00, s11, s01 = m00 * m00 + m01 * m01, m10 * m10 + m11 * m11, m00 * m10 + m01 * m11
    mean, half = (s00 + s11) / 2, math.hypot((s00 - s11) / 2, s01)
    angle = 0.0  # a circle has no axes: keep 0 rather than noise
    if half > 1e-9 * mean:
        angle = math.degrees(0.5 * math.atan2(2 * s01, s00 - s11)) % 180.0
        angle = 0.0 if round(angle, 3) >= 180.0 else angle
    return _floor3(math.sqrt(mean + half)), _floor3(math.sqrt(max(mean - half, 0.0))), angle


def _floor3(r: float) -> float:
    # Radii are rounded down: when they were just big enough for the end points
    # (a half ellipse), rounding up would move the centre off the chord, by
    # far more than 0.001; rounding down lets the renderer scale them back up.
    return math.floor(r * 1000 + 1e-6) / 1000 if math.isfinite(r) else r
