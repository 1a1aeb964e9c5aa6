"""SVG import and export of a board (docs/protocol.md §1 `svg`, GET .../svg; §3 path entries).

    import_svg(data, max_bytes=...) -> ImportResult   untrusted upload -> stroke entries
    export_svg(entries, title=...) -> str             winning versions -> SVG 1.1 text

SvgError (HTTP 400) says why an upload was refused; SvgTooLarge (HTTP 413)
carries the byte limit.

Inside: safe_xml parses uploads; style, css, paint and lengths compute what
an element looks like; shapes gives its geometry, geometry writes it as path
data, pathdata reads path data and bounds it; importer and exporter put
these together.
"""

from .exporter import export_svg
from .importer import ImportResult, import_svg
from .safe_xml import SvgError, SvgTooLarge

__all__ = ["ImportResult", "SvgError", "SvgTooLarge", "export_svg", "import_svg"]
