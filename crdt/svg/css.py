"""The CSS of SVG drawings: `style=""` declarations and the rules of `<style>` elements.

CSS support is what drawing tools emit: simple selectors (`*`, `tag`,
`.class`, `#id` and their compounds) in comma lists; at-rules (`@font-face`,
`@media`, `@import`) are skipped unread. Only the properties that decide what
a stroke looks like are kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from xml.etree.ElementTree import Element

PROPERTIES = frozenset(
    {
        "fill", "stroke", "stroke-width", "fill-opacity", "stroke-opacity", "opacity",
        "color", "display", "visibility", "vector-effect", "stop-color", "stop-opacity",
    }
)  # fmt: skip
_SELECTOR_RE = re.compile(r"([A-Za-z][\w-]*+|\*)?+((?:[.#][\w-]++)*+)", re.ASCII)


def parse_declarations(text: str) -> dict[str, str]:
    """`prop: value; ...` (a style attribute or rule body), limited to the properties we use."""
    out: dict[str, str] = {}
    for decl in text.split(";"):
        prop, sep, value = decl.partition(":")
        prop = prop.strip().lower()
        if sep and prop in PROPERTIES:
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
