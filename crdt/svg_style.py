"""Computed paint of SVG elements: presentation attributes, `<style>`, `style=""`, inheritance.

Only the properties that decide what a stroke looks like are computed: fill,
stroke, their opacities, stroke-width, color (for currentColor), opacity,
display, visibility and vector-effect. CSS support is what drawing tools
emit: simple selectors (`*`, `tag`, `.class`, `#id` and their compounds) in
comma lists; at-rules (`@font-face`, `@media`, `@import`) are skipped unread.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from xml.etree.ElementTree import Element

from svgelements import Color

RGBA = tuple[int, int, int, float]
# A paint is None (none), an RGBA, "currentColor", or ("url", id, fallback paint).
Paint = RGBA | str | tuple | None

_PROPS = frozenset(
    {
        "fill", "stroke", "stroke-width", "fill-opacity", "stroke-opacity", "opacity",
        "color", "display", "visibility", "vector-effect", "stop-color", "stop-opacity",
    }
)  # fmt: skip
# Possessive and atomic throughout: a backtracking number pattern is quadratic
# on a long run of digits that ends badly, and these read untrusted attributes.
_NUMBER = r"(?>[-+]?+(?:\d++\.?+\d*+|\.\d++)(?:[eE][-+]?+\d++)?+)"
_LENGTH_RE = re.compile(rf"\s*+({_NUMBER})\s*+(px|pt|pc|mm|cm|in|em|ex|%)?+\s*+", re.ASCII)
_UNIT_PX = {None: 1.0, "px": 1.0, "pt": 4 / 3, "pc": 16.0, "mm": 96 / 25.4, "cm": 96 / 2.54,
            "in": 96.0, "em": 16.0, "ex": 8.0}  # fmt: skip
# svgelements 1.9.6 has a wrong aliceblue and lacks the CSS 4 keyword.
_KEYWORD_FIXES: dict[str, RGBA] = {
    "aliceblue": (240, 248, 255, 1.0),
    "rebeccapurple": (102, 51, 153, 1.0),
}
_HEX_RE = re.compile(r"#([0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})", re.ASCII)
_FUNC_RE = re.compile(r"(rgba?|hsla?)\(([^()]*)\)", re.ASCII | re.IGNORECASE)
_URL_RE = re.compile(r"url\(\s*+['\"]?+#([^'\")]++)['\"]?+\s*+\)\s*+(.*)", re.DOTALL)
_SELECTOR_RE = re.compile(r"([A-Za-z][\w-]*+|\*)?+((?:[.#][\w-]++)*+)", re.ASCII)


def parse_length(value: str, *, percent_of: float) -> float | None:
    """A length in user units (96 px per inch, 16 px font), or None if it is not one."""
    m = _LENGTH_RE.fullmatch(value)
    if m is None:
        return None
    amount, unit = float(m.group(1)), m.group(2)
    x = amount * percent_of / 100 if unit == "%" else amount * _UNIT_PX[unit]
    return x if math.isfinite(x) else None


def parse_number(value: str) -> float | None:
    """A number or percentage as a fraction ("50%" → 0.5), or None."""
    m = _LENGTH_RE.fullmatch(value)
    if m is None or m.group(2) not in (None, "%"):
        return None
    x = float(m.group(1))
    if not math.isfinite(x):
        return None
    return x / 100 if m.group(2) == "%" else x


def parse_color(value: str) -> RGBA | None:
    """`#rgb[a]`, `#rrggbb[aa]`, `rgb[a]()`, `hsl[a]()` or a colour keyword; None if invalid."""
    v = value.strip()
    if _HEX_RE.fullmatch(v):
        h = v[1:]
        if len(h) <= 4:
            h = "".join(c * 2 for c in h)
        a = int(h[6:8], 16) / 255 if len(h) == 8 else 1.0
        return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16), a
    m = _FUNC_RE.fullmatch(v)
    if m:
        return _color_function(m.group(1).lower(), m.group(2))
    if not v.isalpha():
        return None
    # svgelements knows the CSS keywords but answers black for unknown names.
    name = v.lower()
    if name in _KEYWORD_FIXES:
        return _KEYWORD_FIXES[name]
    c = Color(name)
    if c.value is None or (c.value == Color.rgb_to_int(0, 0, 0) and name != "black"):
        return None
    return c.red, c.green, c.blue, c.alpha / 255


def _color_function(func: str, args: str) -> RGBA | None:
    parts = [p for p in re.split(r"\s*[,/\s]\s*", args.strip()) if p]
    if len(parts) not in (3, 4):
        return None
    alpha = 1.0
    if len(parts) == 4:
        a = parse_number(parts[3])
        if a is None:
            return None
        alpha = min(max(a, 0.0), 1.0)
    if func.startswith("rgb"):
        rgb = []
        for p in parts[:3]:
            n = parse_number(p)
            if n is None:
                return None
            n = n * 255 if p.endswith("%") else n
            rgb.append(int(round(min(max(n, 0.0), 255.0))))
        return rgb[0], rgb[1], rgb[2], alpha
    c = Color(f"hsl({parts[0]}, {parts[1]}, {parts[2]})")
    if not parts[1].endswith("%") or not parts[2].endswith("%") or c.value is None:
        return None
    return c.red, c.green, c.blue, alpha


@lru_cache(maxsize=4096)
def parse_paint(value: str) -> Paint | bool:
    """A fill/stroke value as a Paint, or False when the value is invalid."""
    v = value.strip()
    low = v.lower()
    if low == "none":
        return None
    if low == "currentcolor":
        return "currentColor"
    if low.startswith("url("):
        m = _URL_RE.fullmatch(v)
        if m is None:
            return False
        fallback = parse_paint(m.group(2)) if m.group(2).strip() else False
        return ("url", m.group(1).strip(), fallback)
    color = parse_color(v)
    return False if color is None else color


def parse_declarations(text: str) -> dict[str, str]:
    """`prop: value; ...` (a style attribute or rule body), limited to the properties we use."""
    out: dict[str, str] = {}
    for decl in text.split(";"):
        prop, sep, value = decl.partition(":")
        prop = prop.strip().lower()
        if sep and prop in _PROPS:
            value = value.strip()
            if value.lower().endswith("!important"):
                value = value[: -len("!important")].strip()
            out[prop] = value
    return out


@dataclass(frozen=True, slots=True)
class _Rule:
    tag: str | None
    ident: str | None
    classes: frozenset[str]
    specificity: tuple[int, int, int, int]  # ids, classes, tags, source order
    declarations: dict[str, str]

    def matches(self, tag: str, ident: str | None, classes: frozenset[str]) -> bool:
        return (
            (self.tag is None or self.tag == tag)
            and (self.ident is None or self.ident == ident)
            and self.classes <= classes
        )


class StyleSheet:
    """The simple-selector rules of every `<style>` element of a document."""

    # Drawing tools emit a handful of rules; more than this is not a drawing.
    MAX_RULES = 1000

    def __init__(self, css_texts: list[str]) -> None:
        self._rules: list[_Rule] = []
        self._index: dict[tuple[str, str], list[_Rule]] = {}
        self._classes: set[str] = set()
        self._ids: set[str] = set()
        self._cache: dict[tuple[str, str | None, frozenset[str]], dict[str, str]] = {}
        for text in css_texts:
            for selectors, body in _css_blocks(text):
                decls = parse_declarations(body)
                for sel in selectors.split(",") if decls else ():
                    if len(self._rules) < self.MAX_RULES:
                        self._add(sel.strip(), decls)

    def _add(self, selector: str, decls: dict[str, str]) -> None:
        m = _SELECTOR_RE.fullmatch(selector)
        if not selector or m is None:
            return  # combinators, attribute selectors, pseudo-classes: not supported
        tag = None if m.group(1) in (None, "*") else m.group(1)
        parts = re.findall(r"[.#][\w-]+", m.group(2), re.ASCII)
        ids = {p[1:] for p in parts if p[0] == "#"}
        classes = frozenset(p[1:] for p in parts if p[0] == ".")
        if len(ids) > 1:
            return
        ident = next(iter(ids), None)
        spec = (len(ids), len(classes), int(tag is not None), len(self._rules))
        rule = _Rule(tag, ident, classes, spec, decls)
        self._rules.append(rule)
        self._classes |= classes
        self._ids |= ids
        if ident is not None:
            key = ("#", ident)
        elif classes:
            key = (".", min(classes))
        else:
            key = ("", tag or "*")
        self._index.setdefault(key, []).append(rule)

    def declarations(self, tag: str, el: Element) -> dict[str, str]:
        if not self._rules:
            return {}
        # Cache on what the rules can see, so that unique ids or classes cost nothing.
        ident = el.get("id")
        ident = ident if ident in self._ids else None
        classes = frozenset(c for c in el.get("class", "").split() if c in self._classes)
        key = (tag, ident, classes)
        out = self._cache.get(key)
        if out is None:
            candidates = [*self._index.get(("", "*"), ()), *self._index.get(("", tag), ())]
            if ident is not None:
                candidates += self._index.get(("#", ident), ())
            for c in classes:
                candidates += self._index.get((".", c), ())
            out = {}
            matching = (r for r in candidates if r.matches(tag, ident, classes))
            for rule in sorted(matching, key=lambda r: r.specificity):
                out.update(rule.declarations)
            self._cache[key] = out
        return out


def _strip_css_comments(text: str) -> str:
    parts, i = [], 0
    while (start := text.find("/*", i)) >= 0:
        parts.append(text[i:start])
        end = text.find("*/", start + 2)
        i = len(text) if end < 0 else end + 2
    parts.append(text[i:])
    return " ".join(parts)


def _css_blocks(text: str) -> list[tuple[str, str]]:
    """(selector list, body) of each top-level rule; at-rules are skipped. Linear time."""
    text = _strip_css_comments(text)
    blocks = []
    depth, start, prelude = 0, 0, ""
    for m in re.finditer(r"[{}]", text):
        if m.group() == "{":
            if depth == 0:
                prelude, start = text[start : m.start()].strip(), m.end()
                if prelude.startswith("@") and ";" in prelude:
                    prelude = prelude.rsplit(";", 1)[1].strip()  # after `@import ...;`
            depth += 1
        elif depth:
            depth -= 1
            if depth == 0:
                if not prelude.startswith("@"):
                    blocks.append((prelude, text[start : m.start()]))
                start = m.end()
    return blocks


@dataclass(frozen=True, slots=True)
class Style:
    """The computed values we need; `opacity` is the product over the ancestors (group opacity)."""

    fill: Paint = (0, 0, 0, 1.0)
    stroke: Paint = None
    stroke_width: float = 1.0
    fill_opacity: float = 1.0
    stroke_opacity: float = 1.0
    color: RGBA = (0, 0, 0, 1.0)
    visible: bool = True
    opacity: float = 1.0
    display_none: bool = False
    non_scaling_stroke: bool = False


def declared(el: Element, tag: str, sheet: StyleSheet) -> dict[str, str]:
    """Cascade: presentation attributes < `<style>` rules < the style attribute."""
    out = {k: v for k, v in el.attrib.items() if k in _PROPS}
    out.update(sheet.declarations(tag, el))
    if "style" in el.attrib:
        out.update(parse_declarations(el.attrib["style"]))
    return out


def compute(parent: Style, decl: dict[str, str], *, viewport_diagonal: float) -> Style:
    """An element's Style from its parent's and its declared values; invalid values are ignored."""
    changes: dict[str, object] = {}
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
    return replace(parent, **changes)  # type: ignore[arg-type]  # field name -> parsed value


@lru_cache(maxsize=4096)
def _parsed(prop: str, value: str, diagonal: float) -> tuple[tuple[str, object], ...]:
    """The Style field a declaration sets, or () when its value is invalid."""
    if prop in ("fill", "stroke"):
        paint = parse_paint(value)
        return () if paint is False else ((prop, paint),)
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
