"""SVG import and export of a board (docs/protocol.md §1 `svg`, GET .../svg; §3 path entries).

    import_svg(data, max_bytes=...) -> ImportResult   untrusted upload -> stroke entries
    export_svg(entries, title=...) -> str             winning versions -> SVG 1.1 text

SvgError (HTTP 400) says why an upload was refused; SvgTooLarge (HTTP 413)
carries the byte limit.
"""

from .svg_export import export_svg
from .svg_import import ImportResult, import_svg
from .svg_xml import SvgError, SvgTooLarge

__all__ = ["ImportResult", "SvgError", "SvgTooLarge", "export_svg", "import_svg"]
