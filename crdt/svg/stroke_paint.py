"""A shape's stroke as the board keeps it: one `#rrggbb[aa]` colour and one width.

The board has no fills, gradients or patterns: a shape's stroke is used, else
its fill as an outline; a gradient stands in as the mean of its stop colours,
a pattern as currentColor.
"""

from __future__ import annotations

import contextlib
import math
from xml.etree.ElementTree import Element

from svgelements import Matrix

from crdt.paths import MAX_WIDTH

from .css import StyleSheet
from .paint import BLACK, RGBA, CurrentColor, NoPaint, Paint, Solid, parse_color
from .safe_xml import local_name
from .shapes import href
from .style import Style, declared

OUTLINE_WIDTH = 1.0  # stroke width given to shapes that are only filled (Excalidraw, tldraw ink)
_GRADIENTS = frozenset({"linearGradient", "radialGradient"})


class StrokePainter:
    """Strokes of the shapes of one document, which its `ids` and style `sheet` describe."""

    def __init__(self, *, ids: dict[str, Element], svg_ns: str | None, sheet: StyleSheet) -> None:
        self.ids = ids
        self.svg_ns = svg_ns
        self.sheet = sheet
        self.gradient_colors: dict[int, RGBA | None] = {}

    def stroke(self, style: Style, ctm: Matrix, *, fillable: bool) -> tuple[str, float] | None:
        """Stroke colour and width of a shape: its stroke, else its fill as an outline."""
        if not style.visible:
            return None
        rgba = self._resolve(style.stroke, style.color)
        if rgba is not None and style.stroke_width > 0:
            scale = 1.0 if style.non_scaling_stroke else math.sqrt(abs(ctm.determinant))
            width = style.stroke_width * scale
            color = hex_color(rgba, style.stroke_opacity * style.opacity)
            if color is not None and math.isfinite(width) and width > 0:
                return color, clamp_width(width)
        rgba = self._resolve(style.fill, style.color) if fillable else None
        color = hex_color(rgba, style.fill_opacity * style.opacity) if rgba is not None else None
        return (color, OUTLINE_WIDTH) if color is not None else None

    def _resolve(self, paint: Paint, color: RGBA) -> RGBA | None:
        if isinstance(paint, Solid):
            return paint.rgba
        if isinstance(paint, CurrentColor):
            return color
        if isinstance(paint, NoPaint):
            return None
        server = self.ids.get(paint.ref)
        kind = local_name(server.tag)[1] if server is not None else None
        if server is not None and kind in _GRADIENTS:
            return self._gradient_color(server)
        if paint.fallback is not None:
            return self._resolve(paint.fallback, color)
        # A pattern draws something we cannot keep: stand in with currentColor.
        return color if kind == "pattern" else None

    def _gradient_color(self, grad: Element) -> RGBA | None:
        """The mean of a gradient's stop colours, following `href` to inherited stops."""
        key = id(grad)
        if key not in self.gradient_colors:
            colors = [self._stop_color(s) for s in self._stops(grad)]
            if colors:
                n = len(colors)
                mean = [sum(c[i] for c in colors) / n for i in range(4)]
                rgba = (round(mean[0]), round(mean[1]), round(mean[2]), mean[3])
                self.gradient_colors[key] = rgba
            else:
                self.gradient_colors[key] = None  # a gradient without stops paints nothing
        return self.gradient_colors[key]

    def _stops(self, grad: Element) -> list[Element]:
        seen: set[int] = set()
        stops: list[Element] = []
        el: Element | None = grad
        while el is not None and id(el) not in seen and not stops:
            seen.add(id(el))
            stops = [c for c in el if local_name(c.tag) == (self.svg_ns, "stop")]
            el = self.ids.get(href(el) or "")
        return stops

    def _stop_color(self, stop: Element) -> RGBA:
        decl = declared(stop, "stop", self.sheet)
        r, g, b, a = parse_color(decl.get("stop-color", "black")) or BLACK
        opacity = decl.get("stop-opacity", "1")
        with contextlib.suppress(ValueError):  # an invalid stop-opacity is ignored
            a *= min(max(float(opacity), 0.0), 1.0)
        return r, g, b, a


def hex_color(rgba: RGBA, opacity: float) -> str | None:
    """`#rrggbb`, or `#rrggbbaa` when not opaque; None when fully transparent."""
    alpha = round(rgba[3] * opacity * 255)
    if alpha <= 0:
        return None
    rgb = f"#{rgba[0]:02x}{rgba[1]:02x}{rgba[2]:02x}"
    return rgb if alpha >= 255 else f"{rgb}{alpha:02x}"


def clamp_width(width: float) -> float:
    """A width as the board keeps it: 3 decimals, within (0, MAX_WIDTH]."""
    return min(max(round(width, 3), 0.001), MAX_WIDTH)
