"""Reading SVG 1.1 path data: its commands and numbers, and the box that bounds it.

The one reader of `d` in the package: it takes only what the grammar in
crdt/patterns.py accepts (checked first, in linear time), so it never has to
guess at broken input. What an upload's broken `d` still draws is
`path_syntax_prefix`, from the same grammar.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from itertools import accumulate

from svgelements import Path

from crdt.patterns import COMMA_WSP, NONNEGATIVE, NUMBER, SEP, is_path_syntax

Box = tuple[float, float, float, float]

_ARGUMENTS = "[^A-DF-Za-df-z]*+"  # up to the next command letter (e and E are exponents)
# A run of one command letter reads as one command with implicit repeats, which
# draws the same and is read in one go; not for M, whose repeats are linetos.
_RUN_RE = re.compile(rf"([MmZz]){_ARGUMENTS}|([LlHhVvCcSsQqTtAa]){_ARGUMENTS}(?:\2{_ARGUMENTS})*+")
_NUMBER_RE = re.compile(NUMBER)
_SEPARATORS = str.maketrans(dict.fromkeys("MmZzLlHhVvCcSsQqTtAa,", " "))
# Flags are one character each ("a1,1 0 01 5,5"): a number pattern would read "01" whole.
_ARC_RE = re.compile(
    rf"{SEP}({NONNEGATIVE}){SEP}({NONNEGATIVE}){SEP}({NUMBER}){COMMA_WSP}"
    rf"([01]){SEP}([01]){SEP}({NUMBER}){SEP}({NUMBER})"
)


def read_commands(d: str) -> Iterator[tuple[str, list[float]]]:
    """(letter, numbers) of each command of `d`, an arc's flags as 0.0 or 1.0; ValueError if
    `d` is not path data. Repeats of a letter (other than M and Z) come as one command."""
    if not is_path_syntax(d):
        raise ValueError(f"not SVG 1.1 path data: {d[:40]!r}")
    for run in _RUN_RE.finditer(d):
        letter, text = run.group(1) or run.group(2), run.group()
        if letter in "Aa":
            yield letter, [float(n) for m in _ARC_RE.finditer(text) for n in m.groups()]
        else:
            yield letter, _numbers(text)


def _numbers(text: str) -> list[float]:
    # Splitting at white space and commas is done in C; in valid path data a
    # piece float() cannot read is numbers written without a separator
    # ("1.5.5", "10-5"), which the number pattern reads one by one.
    try:
        return list(map(float, text.translate(_SEPARATORS).split()))
    except ValueError:
        return list(map(float, _NUMBER_RE.findall(text)))


def path_bounds(d: str) -> Box | None:
    """A box containing the path (curve control points included); None if there is nothing
    or `d` is not path data.

    Cheap on purpose (export runs it on every stroke): a curve lies inside the
    hull of its control points, so their box bounds it without solving for
    extrema. Only arcs, rare in drawings, go through svgelements for theirs.
    """
    hull = _Hull()
    try:
        for letter, numbers in read_commands(d):
            upper = letter.upper()
            _STEPS[upper](hull, numbers, letter != upper)
    except (ValueError, IndexError):  # not path data; svgelements on an arc through infinity
        return None
    return hull.box()


class _Hull:
    """The points that bound a path so far, and where the pen is."""

    def __init__(self) -> None:
        self.xs: list[float] = []
        self.ys: list[float] = []
        self.x = self.y = 0.0
        self.start = (0.0, 0.0)  # of the subpath, where Z returns
        # The last curve's kind ("C" or "Q") and last control point, which S and T reflect.
        self.control: tuple[str, float, float] | None = None

    def box(self) -> Box | None:
        if not self.xs:
            return None
        box = min(self.xs), min(self.ys), max(self.xs), max(self.ys)
        return box if all(math.isfinite(v) for v in box) else None

    def add(self, xs: list[float], ys: list[float]) -> None:
        self.xs += xs
        self.ys += ys

    def move(self, nums: list[float], relative: bool) -> None:
        self.line(nums, relative)  # the pairs after the first are linetos
        pairs = len(nums) // 2
        self.start = self.xs[-pairs], self.ys[-pairs]

    def line(self, nums: list[float], relative: bool) -> None:
        xs, ys = nums[0::2], nums[1::2]
        if relative:
            xs, ys = _walk(xs, self.x), _walk(ys, self.y)
        self.add(xs, ys)
        self.x, self.y, self.control = xs[-1], ys[-1], None

    def horizontal(self, nums: list[float], relative: bool) -> None:
        xs = _walk(nums, self.x) if relative else nums
        self.add(xs, [self.y] * len(xs))
        self.x, self.control = xs[-1], None

    def vertical(self, nums: list[float], relative: bool) -> None:
        ys = _walk(nums, self.y) if relative else nums
        self.add([self.x] * len(ys), ys)
        self.y, self.control = ys[-1], None

    def close(self, nums: list[float], relative: bool) -> None:
        (self.x, self.y), self.control = self.start, None

    def cubic(self, nums: list[float], relative: bool) -> None:
        self._curve(nums, relative, 6, "C")

    def quadratic(self, nums: list[float], relative: bool) -> None:
        self._curve(nums, relative, 4, "Q")

    def _curve(self, nums: list[float], relative: bool, size: int, kind: str) -> None:
        if relative:
            # Each segment's points are relative to where the one before it ended.
            starts_x = list(accumulate(nums[size - 2 :: size], initial=self.x))
            starts_y = list(accumulate(nums[size - 1 :: size], initial=self.y))
            for k in range(0, size, 2):
                self.add(
                    [s + v for s, v in zip(starts_x, nums[k::size], strict=False)],
                    [s + v for s, v in zip(starts_y, nums[k + 1 :: size], strict=False)],
                )
            self.x, self.y = starts_x[-1], starts_y[-1]
            control = nums[-4] + starts_x[-2], nums[-3] + starts_y[-2]
        else:
            self.add(nums[0::2], nums[1::2])
            self.x, self.y = nums[-2], nums[-1]
            control = nums[-4], nums[-3]
        self.control = (kind, *control)

    def smooth_cubic(self, nums: list[float], relative: bool) -> None:
        self._smooth(nums, relative, 4, "C")

    def smooth_quadratic(self, nums: list[float], relative: bool) -> None:
        self._smooth(nums, relative, 2, "Q")

    def _smooth(self, nums: list[float], relative: bool, size: int, kind: str) -> None:
        for g in range(0, len(nums), size):
            ox, oy = (self.x, self.y) if relative else (0.0, 0.0)
            # The first control point reflects the last one of the same kind of curve.
            if self.control is not None and self.control[0] == kind:
                first = 2 * self.x - self.control[1], 2 * self.y - self.control[2]
            else:
                first = self.x, self.y
            xs = [first[0], *(v + ox for v in nums[g : g + size : 2])]
            ys = [first[1], *(v + oy for v in nums[g + 1 : g + size : 2])]
            self.add(xs, ys)
            self.x, self.y, self.control = xs[-1], ys[-1], (kind, xs[-2], ys[-2])

    def arc(self, nums: list[float], relative: bool) -> None:
        for g in range(0, len(nums), 7):
            rx, ry, rotation, large, sweep, x, y = nums[g : g + 7]
            end = (x + self.x, y + self.y) if relative else (x, y)
            arc = Path(f"M {self.x!r} {self.y!r} A {rx!r} {ry!r} {rotation!r} {int(large)} "
                       f"{int(sweep)} {end[0]!r} {end[1]!r}")  # fmt: skip
            if len(arc) == 2:
                x0, y0, x1, y1 = arc[1].bbox()
                self.add([x0, x1], [y0, y1])
            self.add([end[0]], [end[1]])
            (self.x, self.y), self.control = end, None


def _walk(steps: list[float], origin: float) -> list[float]:
    """Where relative steps from `origin` lead, one after another."""
    return list(accumulate(steps, initial=origin))[1:]


_STEPS: dict[str, Callable[[_Hull, list[float], bool], None]] = {
    "M": _Hull.move,
    "L": _Hull.line,
    "H": _Hull.horizontal,
    "V": _Hull.vertical,
    "Z": _Hull.close,
    "C": _Hull.cubic,
    "Q": _Hull.quadratic,
    "S": _Hull.smooth_cubic,
    "T": _Hull.smooth_quadratic,
    "A": _Hull.arc,
}
