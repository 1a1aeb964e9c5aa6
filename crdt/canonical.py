"""Canonical JSON as JavaScript's JSON.stringify writes it, and JavaScript's string order.

Every replica must pick the same winner among a register's versions
(crdt/paths.py), and ties are broken by this text compared by UTF-16 code
units, so it must be byte for byte what JavaScript clients compute.
"""

from __future__ import annotations

import math
import re
from typing import Any

_JS_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}
# JSON.stringify escapes quotes, backslashes, control characters and lone
# surrogates (ES2019 "well-formed JSON.stringify"); everything else, U+2028
# and U+2029 included, is written raw.
_JS_NEEDS_ESCAPE = re.compile(
    r'["\\\x00-\x1f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]'
)


def _js_escape(match: re.Match[str]) -> str:
    char = match.group()
    return _JS_ESCAPES.get(char) or f"\\u{ord(char):04x}"


def _js_string(text: str) -> str:
    return '"' + _JS_NEEDS_ESCAPE.sub(_js_escape, text) + '"'


def _js_number(number: float) -> str:
    """Number::toString (ECMA-262 §6.1.6.1.20) for a double, as JSON.stringify uses it."""
    if not math.isfinite(number):
        return "null"
    if number == 0:
        return "0"  # -0 too
    # repr gives the shortest digits that round-trip, as JavaScript requires.
    mantissa, _, exponent = repr(abs(number)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    all_digits = whole + fraction
    digits = all_digits.lstrip("0")
    # The value is 0.<digits> * 10**point.
    point = len(whole) + (int(exponent) if exponent else 0) - (len(all_digits) - len(digits))
    digits = digits.rstrip("0")
    k = len(digits)
    sign = "-" if number < 0 else ""
    if k <= point <= 21:
        return sign + digits + "0" * (point - k)
    if 0 < point <= 21:
        return sign + digits[:point] + "." + digits[point:]
    if -6 < point <= 0:
        return sign + "0." + "0" * -point + digits
    e = point - 1
    mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{sign}{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"


def utf16(text: str) -> bytes:
    # Big-endian code units compare bytewise in JavaScript's string order.
    return text.encode("utf-16-be", "surrogatepass")


def _js_json(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _js_string(value)
    if isinstance(value, int | float):
        return _js_number(float(value))
    if isinstance(value, dict):
        keys = sorted(value, key=utf16)
        return "{" + ",".join(f"{_js_string(k)}:{_js_json(value[k])}" for k in keys) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_js_json(item) for item in value) + "]"
    raise TypeError(f"canonical JSON takes JSON values, not {type(value).__name__}")


def canonical(version: dict[str, Any]) -> str:
    """JSON text with sorted keys, no spaces, numbers as JavaScript's JSON.stringify writes them."""
    return _js_json(version)
