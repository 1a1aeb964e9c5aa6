"""A strict yes/no check of SVG 1.1 path data (the `d` attribute, SVG 1.1 §8.3.9).

Hand-written on purpose: this is a small grammar check on untrusted input,
and we need only a yes or no. The SVG libraries (svgelements, svgpathtools)
are parsers that build objects, are lenient (they skip or repair what they
cannot read) and are slow on megabytes of points.

The grammar is compiled into one regular expression whose parts mirror the
BNF productions. Every quantifier is possessive and every number atomic, so
the match never backtracks into a number or a separator: numbers are read
greedily, as the specification demands ("M 0.6.5" is 0.6 then .5, and
"M 100-200" is 100 then -200), and matching is linear in the input length.
"""

from __future__ import annotations

import re

# The longest `d` a version may hold, in characters (docs/protocol.md §3, `MAX_PATH_DATA`);
# the default of WHITEBOARD_MAX_PATH_DATA (server/config.py), which a server passes on.
DEFAULT_MAX_PATH_DATA = 262_144

_WSP = r"[ \t\r\n]"
# comma-wsp: (wsp+ comma? wsp*) | (comma wsp*); "_SEP" is the optional form.
_SEP = rf"(?:{_WSP}*+,?+{_WSP}*+)"
_COMMA_WSP = rf"(?:{_WSP}++,?+{_WSP}*+|,{_WSP}*+)"
_DIGITS = r"[0-9]++"
_EXPONENT = rf"(?:[eE][+-]?{_DIGITS})"
# integer-constant | floating-point-constant, taken whole (atomic group).
_NONNEGATIVE = rf"(?>(?:{_DIGITS}\.?+[0-9]*+|\.{_DIGITS}){_EXPONENT}?+)"
_NUMBER = rf"(?>[+-]?{_NONNEGATIVE})"
_FLAG = r"[01]"
_PAIR = rf"(?:{_NUMBER}{_SEP}{_NUMBER})"


def _command(letters: str, argument: str) -> str:
    # letter wsp* argument (comma-wsp? argument)*
    return rf"(?:[{letters}]{_WSP}*+{argument}(?:{_SEP}{argument})*+)"


def _pairs(n: int) -> str:
    return "(?:" + _SEP.join([_PAIR] * n) + ")"


_ARC_ARGUMENT = (
    rf"(?:{_NONNEGATIVE}{_SEP}{_NONNEGATIVE}{_SEP}{_NUMBER}{_COMMA_WSP}"
    rf"{_FLAG}{_SEP}{_FLAG}{_SEP}{_PAIR})"
)
_MOVETO = _command("Mm", _PAIR)
_DRAWTO = "|".join(
    [
        "[Zz]",
        _command("LlTt", _PAIR),
        _command("HhVv", _NUMBER),
        _command("Cc", _pairs(3)),
        _command("SsQq", _pairs(2)),
        _command("Aa", _ARC_ARGUMENT),
    ]
)
# svg-path: wsp* moveto-drawto-command-groups wsp*, and a group is a moveto
# followed by drawtos, so: a moveto first, then any commands, wsp* between.
_PATH_DATA = re.compile(rf"{_WSP}*+{_MOVETO}(?:{_WSP}*+(?:{_MOVETO}|{_DRAWTO}))*+{_WSP}*+")


def is_path_data(d: str, *, max_path_data: int = DEFAULT_MAX_PATH_DATA) -> bool:
    """True if `d` is non-empty SVG 1.1 path data of at most `max_path_data` characters."""
    if not isinstance(d, str) or len(d) > max_path_data:
        return False
    return is_path_syntax(d)


def is_path_syntax(d: str) -> bool:
    """True if `d` is non-empty SVG 1.1 path data, however long (linear in its length)."""
    return isinstance(d, str) and _PATH_DATA.fullmatch(d) is not None
