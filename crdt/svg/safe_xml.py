"""Reading untrusted SVG bytes into an element tree, safely.

The only parser that ever sees an upload is defusedxml's expat parser with
entity declarations and external references forbidden, fed through a tree
builder that counts elements and nesting depth and stops the parse the moment
a limit is crossed. Nothing downstream (svgelements included) parses XML.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element, ParseError, TreeBuilder

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
# Namespace of the element in our exports' <metadata> that carries the exact versions.
WHITEBOARD_NS = "urn:x-whiteboard:svg-export:1"

# The W3C SVG document types. draw.io and older exporters write one of these;
# expat never reads an external DTD (parameter entity parsing stays off), so such
# a DOCTYPE is inert. Any other DOCTYPE, and any internal subset, is refused:
# entity declarations are what billion-laughs, quadratic-blowup and XXE need.
_SVG_PUBLIC_IDS = frozenset(
    {
        "-//W3C//DTD SVG 1.1//EN",
        "-//W3C//DTD SVG 1.0//EN",
        "-//W3C//DTD SVG 20010904//EN",
        "-//W3C//DTD SVG 1.1 Basic//EN",
        "-//W3C//DTD SVG 1.1 Tiny//EN",
    }
)
_SVG_SYSTEM_ID_PREFIXES = ("http://www.w3.org/Graphics/SVG/", "http://www.w3.org/TR/")


class SvgError(ValueError):
    """The upload cannot be read as an SVG drawing; the message says why (HTTP 400)."""


class SvgTooLarge(SvgError):
    """The upload is larger than the byte limit (HTTP 413)."""

    def __init__(self, limit: int, size: int | None = None) -> None:
        self.limit = limit
        self.size = size
        got = f" (got {size} bytes)" if size is not None else ""
        super().__init__(f"SVG is larger than the limit of {limit} bytes{got}")


class _LimitedTreeBuilder(TreeBuilder):
    """A tree builder that refuses the document as soon as it gets too big or too deep."""

    def __init__(self, *, max_elements: int, max_depth: int) -> None:
        super().__init__()
        self._max_elements = max_elements
        self._max_depth = max_depth
        self._count = 0
        self._depth = 0

    def start(self, tag: str, attrs: dict[str, str]) -> Element:
        self._count += 1
        if self._count > self._max_elements:
            raise SvgError(f"SVG has more than {self._max_elements} elements")
        self._depth += 1
        if self._depth > self._max_depth:
            raise SvgError(f"SVG elements are nested deeper than {self._max_depth} levels")
        return super().start(tag, attrs)

    def end(self, tag: str) -> Element:
        self._depth -= 1
        return super().end(tag)


def _svg_xml_parser(target: TreeBuilder) -> DefusedXMLParser:
    """defusedxml's parser, letting through only the inert standard SVG DOCTYPE."""
    parser = DefusedXMLParser(
        target=target, forbid_dtd=False, forbid_entities=True, forbid_external=True
    )
    parser.parser.StartDoctypeDeclHandler = _check_doctype
    return parser


def _check_doctype(name: str, sysid: str | None, pubid: str | None, internal: int) -> None:
    if internal:
        raise SvgError(
            "refused a DOCTYPE with an internal subset: DTD and entity declarations "
            "are not accepted (they enable entity-expansion and XXE attacks)"
        )
    standard = (
        name == "svg"
        and pubid in _SVG_PUBLIC_IDS
        and (sysid is None or sysid.startswith(_SVG_SYSTEM_ID_PREFIXES))
    )
    if not standard:
        raise SvgError(
            "refused a DOCTYPE referring to an external DTD "
            f"(name {name!r}, public id {pubid!r}, system id {sysid!r}); "
            "only the standard W3C SVG document type is accepted"
        )


def local_name(tag: object) -> tuple[str | None, str]:
    """(namespace, local name) of an element tag; comments and PIs give (None, '')."""
    if not isinstance(tag, str):
        return None, ""
    if tag.startswith("{"):
        ns, _, name = tag[1:].partition("}")
        return ns, name
    return "", tag


def parse_svg_xml(
    data: bytes | str, *, max_bytes: int, max_elements: int, max_depth: int
) -> Element:
    """Parse an upload into its root `<svg>` element, or raise SvgError / SvgTooLarge."""
    if len(data) > max_bytes:  # a str has at most as many characters as UTF-8 bytes
        raise SvgTooLarge(max_bytes, len(data) if isinstance(data, bytes) else None)
    if isinstance(data, str):
        size = len(data.encode("utf-8", "surrogatepass"))
        if size > max_bytes:
            raise SvgTooLarge(max_bytes, size)
    builder = _LimitedTreeBuilder(max_elements=max_elements, max_depth=max_depth)
    parser = _svg_xml_parser(builder)
    try:
        parser.feed(data)
        root: Element = parser.close()
    except ParseError as e:
        raise SvgError(f"not well-formed XML: {e}") from None
    except DefusedXmlException as e:
        raise SvgError(f"refused unsafe XML: {e}") from None
    except UnicodeError as e:
        raise SvgError(f"not readable as XML text: {e}") from None
    ns, name = local_name(root.tag)
    if name != "svg" or ns not in (SVG_NS, ""):
        shown = f"{{{ns}}}{name}" if ns else name
        raise SvgError(f"not an SVG document: the root element is <{shown}>, expected <svg>")
    return root
