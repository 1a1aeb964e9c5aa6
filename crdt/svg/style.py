"""Computed paint of SVG elements: presentation attributes, `<style>`, `style=""`, inheritance.

Only the properties that decide what a stroke looks like are computed: fill,
stroke, their opacities, stroke-width, color (for currentColor), opacity,
display, visibility and vector-effect.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any
from xml.etree.ElementTree import Element

from .css import PROPERTIES, StyleSheet, parse_declarations
from .lengths import parse_length, parse_number
from .paint import BLACK, NO_PAINT, RGBA, Paint, Solid, parse_color, parse_paint


@dataclass(frozen=True, slots=True)
class Style:
    """The computed values we need; `opacity` is the product over the ancestors (group opacity)."""

    fill: Paint = Solid(BLACK)
    stroke: Paint = NO_PAINT
    stroke_width: float = 1.0
    fill_opacity: float = 1.0
    stroke_opacity: float = 1.0
    color: RGBA = BLACK
    visible: bool = True
    opacity: float = 1.0
    display_none: bool = False
    non_scaling_stroke: bool = False


def declared(el: Element, tag: str, sheet: StyleSheet) -> dict[str, str]:
    """Cascade: presentation attributes < `<style>` rules < the style attribute."""
    out = {k: v for k, v in el.attrib.items() if k in PROPERTIES}
    out.update(sheet.declarations(tag, el))
    if "style" in el.attrib:
        out.update(parse_declarations(el.attrib["style"]))
    return out


def compute(parent: Style, decl: dict[str, str], *, viewport_diagonal: float) -> Style:
    """An element's Style from its parent's and its declared values; invalid values are ignored."""
    changes: dict[str, Any] = {}
    opacity = parent.opacity
    for prop, value in decl.items():
        v = value.strip()
        if v.lower() == "inherit":
            continue  # for the inherited properties that is what `parent` already holds
        if prop == "opacity":
            x = parse_number(v)
            if x is not None and not math.isnan(x):
                opacity *= min(max(x, 0.0), 1.0)
        else:
            changes.update(_parsed(prop, v, viewport_diagonal))
    if opacity != parent.opacity:
        changes["opacity"] = opacity
    if not changes and not parent.display_none and not parent.non_scaling_stroke:
        return parent
    changes.setdefault("display_none", False)  # neither of these two is inherited
    changes.setdefault("non_scaling_stroke", False)
    return replace(parent, **changes)


@lru_cache(maxsize=4096)
def _parsed(prop: str, value: str, diagonal: float) -> tuple[tuple[str, object], ...]:
    """The Style field a declaration sets, or () when its value is invalid."""
    if prop in ("fill", "stroke"):
        paint = parse_paint(value)
        return () if paint is None else ((prop, paint),)
    if prop == "stroke-width":
        w = parse_length(value, percent_of=diagonal)
        return () if w is None or not w >= 0 else (("stroke_width", w),)
    if prop in ("fill-opacity", "stroke-opacity"):
        x = parse_number(value)
        if x is None or math.isnan(x):
            return ()
        return ((prop.replace("-", "_"), min(max(x, 0.0), 1.0)),)
    if prop == "color":
        c = parse_color(value)
        return () if c is None else (("color", c),)
    value = value.lower()
    if prop == "display":
        return (("display_none", value == "none"),)
    if prop == "visibility" and value in ("visible", "hidden", "collapse"):
        return (("visible", value == "visible"),)
    if prop == "vector-effect":
        return (("non_scaling_stroke", value == "non-scaling-stroke"),)
    return ()
