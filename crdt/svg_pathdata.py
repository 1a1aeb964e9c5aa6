"""SVG 1.1 path data: compact absolute `d` from svgelements geometry, strict reading, bounds."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

from svgelements import Arc, Close, CubicBezier, Line, Matrix, Move, Path, Point, QuadraticBezier

_ARITY = {"M": 2, "L": 2, "H": 1, "V": 1, "C": 6, "S": 4, "Q": 4, "T": 2, "A": 7, "Z": 0}
# Possessive and atomic: no backtracking into numbers or white space (linear time).
_WSP = "[ \t\r\n]*+"
_NUM = r"(?>[-+]?+(?:[0-9]++\.?+[0-9]*+|\.[0-9]++)(?:[eE][-+]?+[0-9]++)?+)"
_CMD_RE = re.compile(rf"{_WSP}([MmZzLlHhVvCcSsQqTtAa])")
_FIRST_NUM_RE = re.compile(rf"{_WSP}({_NUM})")
_NEXT_NUM_RE = re.compile(rf"{_WSP},?+{_WSP}({_NUM})")
_FLAG_RE = re.compile(rf"{_WSP},?+{_WSP}([01])")
_SPACE_RE = re.compile(_WSP)
_NUM_RE = re.compile(_NUM)
# Absolute M/L/C/Q/Z only (what import writes): every number is an x or a y, in turn.
_XY_ONLY_RE = re.compile(r"[MLCQZ0-9.eE+\- ,\t\r\n]*+")


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
        if isinstance(seg, Close):
            parts.append("Z")
        elif isinstance(seg, Line):
            parts.append("L %s %s")
            pt(seg.end)
        elif isinstance(seg, QuadraticBezier):
            parts.append("Q %s %s %s %s")
            pt(seg.control)
            pt(seg.end)
        elif isinstance(seg, CubicBezier):
            parts.append("C %s %s %s %s %s %s")
            pt(seg.control1)
            pt(seg.control2)
            pt(seg.end)
        elif isinstance(seg, Arc):
            large = int(abs(seg.sweep) > math.pi)
            sweep = int((seg.sweep >= 0) != flip)
            parts.append(f"A %s %s %s {large} {sweep} %s %s")
            nums.extend(_mapped_ellipse(seg.rx, seg.ry, float(seg.get_rotation()), a, b, c, dd))
            pt(seg.end)
        else:  # pragma: no cover - svgelements has no other segment types
            return None
    if not drawn or not all(math.isfinite(x) for x in nums):
        return None
    return " ".join(parts) % tuple(fmt(x) for x in nums)


def poly_d(points: list[tuple[float, float]], closed: bool, m: Matrix) -> str | None:
    """Path data of a polyline (or polygon when `closed`) under matrix `m`."""
    a, b, c, d, e, f = m.a, m.b, m.c, m.d, m.e, m.f
    nums = [v for x, y in points for v in (a * x + c * y + e, b * x + d * y + f)]
    if len(points) < 2 or not all(math.isfinite(v) for v in nums):
        return None
    text = " L ".join(f"{fmt(nums[i])} {fmt(nums[i + 1])}" for i in range(0, len(nums), 2))
    return f"M {text} Z" if closed else f"M {text}"


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


def iter_commands(d: str) -> Iterator[tuple[str, list[float]]]:
    """(command, args) of SVG 1.1 path data, implicit repeats split out; ValueError on error."""
    for cmd, args, _ in _commands(d):
        yield cmd, args


def valid_prefix(d: str) -> str:
    """The leading part of `d` made of whole commands: SVG draws a path up to its first error."""
    end = 0
    try:
        for command in _commands(d):
            end = command[2]
    except ValueError:
        pass
    return d[:end]


def _commands(d: str) -> Iterator[tuple[str, list[float], int]]:
    pos = _SPACE_RE.match(d).end()  # type: ignore[union-attr]
    first = True
    while pos < len(d):
        m = _CMD_RE.match(d, pos)
        if m is None:
            raise ValueError(f"expected a path command at offset {pos}, got {d[pos : pos + 10]!r}")
        cmd, pos = m.group(1), m.end()
        if first and cmd not in "Mm":
            raise ValueError(f"path data must start with M or m, got {cmd!r}")
        first = False
        up = cmd.upper()
        arity = _ARITY[up]
        group = 0
        while arity or not group:
            args: list[float] = []
            for i in range(arity):
                rx = _FLAG_RE if up == "A" and i in (3, 4) else _NEXT_NUM_RE
                if i == 0 and group == 0:
                    rx = _FIRST_NUM_RE
                a = rx.match(d, pos)
                if a is None:
                    if i == 0 and group > 0:
                        break
                    raise ValueError(f"{cmd!r} needs {arity} numbers, bad argument at offset {pos}")
                args.append(float(a.group(1)))
                pos = a.end()
            else:
                # after the first pair, a moveto's extra pairs are linetos
                yield (cmd if group == 0 or up != "M" else chr(ord(cmd) - 1)), args, pos
                group += 1
                continue
            break
        pos = _SPACE_RE.match(d, pos).end()  # type: ignore[union-attr]


def path_bounds(d: str) -> tuple[float, float, float, float] | None:
    """A box containing the path (curve control points included); None if there is nothing.

    Cheap on purpose (export runs it on every stroke): a curve lies inside the
    hull of its control points, so their box bounds it without solving for
    extrema. Only arcs, rare in drawings, go through svgelements for theirs.
    """
    try:
        if _XY_ONLY_RE.fullmatch(d):
            try:
                nums = list(map(float, d.translate(_XY_SPACES).split()))
            except ValueError:  # numbers not separated by spaces ("1.5.5", "10-5")
                nums = list(map(float, _NUM_RE.findall(d)))
            if nums and len(nums) % 2 == 0:
                xs, ys = nums[0::2], nums[1::2]
                return _finite((min(xs), min(ys), max(xs), max(ys)))
        if "a" in d or "A" in d:
            return _finite(_scan_bounds(d))
        return _finite(_token_bounds(d))
    except (ValueError, IndexError, KeyError):
        return None


_XY_SPACES = str.maketrans("MLCQZ,", "      ")
_TOKEN_RE = re.compile(rf"[MmZzLlHhVvCcSsQqTt]|{_NUM}")


def _token_bounds(d: str) -> tuple[float, float, float, float] | None:
    """Bounds of path data without arcs: one tight pass over its tokens."""
    toks = _TOKEN_RE.findall(d)
    if toks and toks[0] not in ("M", "m"):
        raise ValueError("path data must start with M or m")
    xs: list[float] = []
    ys: list[float] = []
    cx = cy = sx = sy = qx = qy = 0.0  # current point, subpath start, last control point
    last = ""  # "C" or "Q" when the last segment was that kind of curve, for S and T
    cmd = "M"
    i, n = 0, len(toks)
    while i < n:
        t = toks[i]
        if t.isalpha():
            cmd = t
            i += 1
            if cmd == "Z" or cmd == "z":
                cx, cy, last = sx, sy, ""
            continue
        up = cmd.upper()
        ox, oy = (0.0, 0.0) if cmd == up else (cx, cy)
        if up == "L":
            cx, cy = float(t) + ox, float(toks[i + 1]) + oy
            i, last = i + 2, ""
        elif up == "H":
            cx, i, last = float(t) + ox, i + 1, ""
        elif up == "V":
            cy, i, last = float(t) + oy, i + 1, ""
        elif up == "M":  # further pairs of a moveto are linetos
            cx, cy = float(t) + ox, float(toks[i + 1]) + oy
            sx, sy, cmd, i, last = cx, cy, ("L" if cmd == "M" else "l"), i + 2, ""
        else:
            if up == "C" or up == "Q":
                xs.append(float(t) + ox)
                ys.append(float(toks[i + 1]) + oy)
                i += 2
            else:  # S or T: the first control point reflects the last one of the same kind
                kind = "C" if up == "S" else "Q"
                if last == kind:
                    xs.append(2 * cx - qx)
                    ys.append(2 * cy - qy)
                else:
                    xs.append(cx)
                    ys.append(cy)
            if up == "C" or up == "S":
                qx, qy = float(toks[i]) + ox, float(toks[i + 1]) + oy
                xs.append(qx)
                ys.append(qy)
                i += 2
            else:
                qx, qy = xs[-1], ys[-1]
            cx, cy = float(toks[i]) + ox, float(toks[i + 1]) + oy
            i, last = i + 2, ("C" if up in "CS" else "Q")
        xs.append(cx)
        ys.append(cy)
    if not xs:
        return None
    return min(xs), min(ys), max(xs), max(ys)


def _finite(
    b: tuple[float, float, float, float] | None,
) -> tuple[float, float, float, float] | None:
    return b if b is not None and all(math.isfinite(v) for v in b) else None


def _scan_bounds(d: str) -> tuple[float, float, float, float] | None:
    xs: list[float] = []
    ys: list[float] = []
    cx = cy = sx = sy = 0.0
    ctrl: tuple[float, float] | None = None  # last control point, for S and T
    prev = ""
    for cmd, a in iter_commands(d):
        up = cmd.upper()
        ox, oy = (cx, cy) if cmd.islower() else (0.0, 0.0)
        pts: list[tuple[float, float]] = []
        new_ctrl = None
        if up in "ML":
            pts = [(a[0] + ox, a[1] + oy)]
        elif up == "H":
            pts = [(a[0] + ox, cy)]
        elif up == "V":
            pts = [(cx, a[0] + oy)]
        elif up == "Z":
            pts = [(sx, sy)]
        elif up in "CQ":
            pts = [(a[i] + ox, a[i + 1] + oy) for i in range(0, len(a), 2)]
            new_ctrl = pts[-2]
        elif up in "ST":
            smooth = prev in ("CS" if up == "S" else "QT")
            first = (2 * cx - ctrl[0], 2 * cy - ctrl[1]) if smooth and ctrl else (cx, cy)
            pts = [first] + [(a[i] + ox, a[i + 1] + oy) for i in range(0, len(a), 2)]
            new_ctrl = pts[-2]
        elif up == "A":
            end = (a[5] + ox, a[6] + oy)
            arc = Path(f"M {cx!r} {cy!r} A {a[0]!r} {a[1]!r} {a[2]!r} {int(a[3])} "
                       f"{int(a[4])} {end[0]!r} {end[1]!r}")  # fmt: skip
            if len(arc) == 2:
                x0, y0, x1, y1 = arc[1].bbox()
                pts = [(x0, y0), (x1, y1)]
            pts.append(end)
        xs += (p[0] for p in pts)
        ys += (p[1] for p in pts)
        cx, cy = pts[-1]
        if up == "M":
            sx, sy = cx, cy
        ctrl, prev = new_ctrl, up
    if not xs:
        return None
    return min(xs), min(ys), max(xs), max(ys)
