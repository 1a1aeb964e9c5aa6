"""The regular expressions several modules share: numbers, stroke colours, SVG 1.1 path data.

Written once so that the registers, awareness and SVG import and export agree
on what a number, a colour and path data are.

Every quantifier is possessive and every number atomic: these patterns read
untrusted input, and a backtracking number pattern is quadratic on a long run
of digits that ends badly. Numbers are read greedily, as SVG demands
("0.6.5" is 0.6 then .5, "100-200" is 100 then -200).

The path data check is hand-written on purpose: this is a small grammar check
on untrusted input, and we need only a yes or no. The SVG libraries
(svgelements, svgpathtools) are parsers that build objects, are lenient (they
skip or repair what they cannot read) and are slow on megabytes of points.
"""

from __future__ import annotations

import re

# A number without a sign, taken whole: integer or floating-point constant (SVG 1.1 §8.3.9).
NONNEGATIVE = r"(?>(?:[0-9]++\.?+[0-9]*+|\.[0-9]++)(?:[eE][-+]?+[0-9]++)?+)"
NUMBER = rf"(?>[-+]?+{NONNEGATIVE})"

# A stroke's or a cursor's colour: #rrggbb or #rrggbbaa. `\Z` so that `match`
# never takes "#aabbcc\n" (`$` would).
HEX_COLOR_RE = re.compile(r"#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{8})\Z")


def is_hex_color(value: object) -> bool:
    """True if `value` is a `#rrggbb` or `#rrggbbaa` string."""
    return isinstance(value, str) and HEX_COLOR_RE.match(value) is not None


# -- SVG 1.1 path data (the `d` attribute, SVG 1.1 §8.3.9) ------------------------------------
# The grammar is one regular expression whose parts mirror the BNF productions;
# matching is linear in the input length.

_WSP = r"[ \t\r\n]"
# comma-wsp: (wsp+ comma? wsp*) | (comma wsp*); "SEP" is the optional form.
SEP = rf"(?:{_WSP}*+,?+{_WSP}*+)"
COMMA_WSP = rf"(?:{_WSP}++,?+{_WSP}*+|,{_WSP}*+)"
_PAIR = rf"(?:{NUMBER}{SEP}{NUMBER})"


def _command(letters: str, argument: str) -> str:
    # letter wsp* argument (comma-wsp? argument)*
    return rf"(?:[{letters}]{_WSP}*+{argument}(?:{SEP}{argument})*+)"


def _pairs(n: int) -> str:
    return "(?:" + SEP.join([_PAIR] * n) + ")"


_ARC_ARGUMENT = (
    rf"(?:{NONNEGATIVE}{SEP}{NONNEGATIVE}{SEP}{NUMBER}{COMMA_WSP}"
    rf"[01]{SEP}[01]{SEP}{_PAIR})"
)
_MOVETO = _command("Mm", _PAIR)
_DRAWTO = "|".join(
    [
        "[Zz]",
        _command("LlTt", _PAIR),
        _command("HhVv", NUMBER),
        _command("Cc", _pairs(3)),
        _command("SsQq", _pairs(2)),
        _command("Aa", _ARC_ARGUMENT),
    ]
)
# svg-path: wsp* moveto-drawto-command-groups wsp*, and a group is a moveto
# followed by drawtos, so: a moveto first, then any commands, wsp* between.
_COMMANDS = rf"{_WSP}*+{_MOVETO}(?:{_WSP}*+(?:{_MOVETO}|{_DRAWTO}))*+"
_PATH_DATA_RE = re.compile(rf"{_COMMANDS}{_WSP}*+")
_WHOLE_COMMANDS_RE = re.compile(_COMMANDS)


def is_path_syntax(d: object) -> bool:
    """True if `d` is non-empty SVG 1.1 path data, however long (linear in its length)."""
    return isinstance(d, str) and _PATH_DATA_RE.fullmatch(d) is not None


def path_syntax_prefix(d: str) -> str:
    """The leading part of `d` made of whole commands: SVG draws a path up to its first error."""
    # Possessive throughout, so the match is the longest run of whole commands.
    m = _WHOLE_COMMANDS_RE.match(d)
    return d[: m.end()] if m is not None else ""
