"""Declared lengths against the bytes present, before any decoder sees them.

A hostile client must not make the server allocate or compute more than the bytes it
sent justify. The decoders in pycrdt trust what the bytes declare. Measured with pycrdt
0.14.13 (built on yrs 0.28.0):

* ``Doc.get_update(state_vector)`` given the 10-byte state vector
  ``cc f8 dc 92 a3 50 31 75 b5 a1`` (a 6-byte entry count of 2,758,213,581,900, then
  4 bytes) allocates about 1 GB and spends about 0.8 s before it raises ValueError:
  yrs sizes its table from the declared count before reading any entry.
  :func:`check_state_vector` refuses it after reading the count.
* In updates, huge client, struct, delete-set, string, JSON and Any counts fail at once
  without allocating, but lib0 Any values nest without bound and yrs decodes them by
  recursion: an update holding one Any of 50,000 nested one-element arrays (100 KB)
  kills the process with a stack overflow (SIGSEGV) in ``Doc.apply_update`` and in
  ``merge_updates``. :func:`update_roots` refuses Any values that nest more than
  :data:`MAX_ANY_DEPTH` containers.
* yrs reads most counts and lengths as u32, modulo 2**32 (a struct count of 2**32 is
  read as 0 and the update applies); here every count is read whole and must fit the
  bytes that follow it.

:func:`update_roots` walks a Yjs v1 update completely, checks every count and length
against the bytes that remain (counts with the least size an element can take, before
any loop) and returns the root type names that the update's items name as their
parents. The document's only root is ``paths``: the caller removes content under any
other root before it is stored.

Where Yjs (13.6) and yrs (0.28) read the same bytes differently, the bytes are refused,
so that the roots found here are the roots yrs integrates and Yjs clients can read:

* content ref 2 (``ContentJSON``, legacy: neither writes it except to copy one it
  decoded): Yjs reads ``len`` strings, yrs ``len + 1``;
* type ref 5 (``YXmlHook``): Yjs reads the hook's name after it, yrs reads nothing;
* type refs other than 0-4 and 6 (yrs also reads 9 sub-document and 15 undefined, which
  Yjs cannot); Yjs reads the type ref as a varUint, yrs as one byte;
* an info byte with bit 0x10 set (yrs ignores the bit, Yjs reads content refs 16-31),
  or with flag bits on a GC (0) or Skip (10) struct (yrs then reads an item);
* a parent-info flag other than 0 or 1 (both read anything but 1 as "an item's ID").

Anything else malformed (truncated, trailing bytes, an unknown content ref or Any type,
a count or length beyond the bytes present, a varUint of more than 10 bytes or beyond
2**64, a varInt beyond 2**63, invalid UTF-8) raises :class:`ProtocolError` (close code
4400). What IDs point at is not checked: an item whose parent ID names an item that is
no shared type passes here, and pycrdt's ``apply_update`` raises RuntimeError for it
after applying the structs before it.

Cost, measured by ``tests/test_wire.py`` (printed with ``-s``; CPU time, best of 5, on
a loaded 2-vCPU development VM, CPython 3.11): a stroke update, i.e. a ``paths``
register holding one stroke (124 bytes) or a new version of a register plus the delete
of the version it supersedes (100 bytes), takes 2-4 µs; an update of 20,000 strokes
(2.2 MB) 43-50 ms, about 2.5 µs a stroke, less than pycrdt's ``apply_update`` of the
same update (60-100 ms).

About 500 lines, on purpose in one module: both walks share the lib0 readers and the
rules above, and the whole of what is refused before pycrdt is read in one place.
"""

from __future__ import annotations

from crdt.errors import ProtocolError

__all__ = ["MAX_ANY_DEPTH", "check_state_vector", "update_roots"]

MAX_ANY_DEPTH = 64
# Root names and map keys outlive their content: Yjs keeps a deleted map entry's key, and a
# root's name, for good. Path ids are at most 64 characters of [A-Za-z0-9_-], so no name in
# a whiteboard's document is longer; a longer one could only smuggle data past removal.
MAX_NAME_BYTES = 64
"""Most lib0 Any containers (objects, arrays) one value may nest, the outermost included."""

_U64 = 1 << 64

# Item content refs (info & 0x1f) as Yjs and yrs number them.
_DELETED, _JSON, _BINARY, _STRING, _EMBED, _FORMAT, _TYPE, _ANY, _DOC = range(1, 10)
_GC, _SKIP = 0, 10
# Type refs that Yjs and yrs both read as one byte with nothing after it. 3 (XmlElement)
# is followed by its node name.
_PLAIN_TYPE_REFS = frozenset({0, 1, 2, 4, 6})
_XML_ELEMENT = 3


def _uint_tail(data: bytes, pos: int, first: int) -> tuple[int, int]:
    """The value and end of a varUint whose first byte, `first` (>= 0x80), is before `pos`."""
    value = first & 0x7F
    shift = 7
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            if value >= _U64:
                raise ProtocolError(f"varUint ending at byte {pos} is beyond 2**64")
            return value, pos
        shift += 7
        if shift == 70:
            raise ProtocolError(f"varUint at byte {pos - 10} is longer than 10 bytes")


def _skip_uint_tail(data: bytes, pos: int) -> int:
    """The end of a varUint whose first byte (>= 0x80) was just before `pos`."""
    if data[pos] < 0x80:  # 2 bytes: the usual clock or length
        return pos + 1
    first = pos - 1
    pos += 1
    while data[pos] >= 0x80:
        pos += 1
        if pos - first == 10:
            raise ProtocolError(f"varUint at byte {first} is longer than 10 bytes")
    pos += 1
    if pos - first == 10 and data[pos - 1] > 1:  # the 10th byte holds bit 63 and up
        raise ProtocolError(f"varUint at byte {first} is beyond 2**64")
    return pos


def _skip_int_tail(data: bytes, pos: int) -> int:
    """The end of a lib0 varInt (6 bits and a sign in its first byte) continued at `pos`."""
    first = pos - 1
    while data[pos] >= 0x80:
        pos += 1
        if pos - first == 10:
            raise ProtocolError(f"varInt at byte {first} is longer than 10 bytes")
    pos += 1
    # The 10th byte holds bit 62 and up: a magnitude below 2**63 leaves it 0 or 1.
    if pos - first == 10 and data[pos - 1] > 1:
        raise ProtocolError(f"varInt at byte {first} is beyond 2**63")
    return pos


# The two walks below are one loop each, on purpose: they run over every byte of every
# update and state vector a client sends (about 3 µs for a stroke), so each kind of value
# or struct is a branch with its locals bound once, not a Python call of its own.
def _skip_anys(  # noqa: C901 (one branch per lib0 Any type; see above)
    data: bytes, pos: int, end: int, count: int
) -> int:
    """The end of `count` lib0 Any values starting at `pos`, every one checked."""
    uint_tail = _uint_tail
    # Enclosing containers, innermost last: values left to read * 2 + 1 for an object.
    stack: list[int] = []
    left = count
    in_object = False
    while True:
        if not left:
            if not stack:
                return pos
            top = stack.pop()
            left = top >> 1
            in_object = top & 1 == 1
            continue
        left -= 1
        if in_object:
            size = data[pos]
            pos += 1
            if size >= 0x80:
                size, pos = uint_tail(data, pos, size)
            stop = pos + size
            if stop > end:
                raise ProtocolError(
                    f"Any object key at byte {pos} declares {size} bytes, {end - pos} present"
                )
            data[pos:stop].decode()
            pos = stop
        kind = data[pos]
        pos += 1
        if kind == 119:  # string
            size = data[pos]
            pos += 1
            if size >= 0x80:
                size, pos = uint_tail(data, pos, size)
            stop = pos + size
            if stop > end:
                raise ProtocolError(
                    f"Any string at byte {pos} declares {size} bytes, {end - pos} present"
                )
            data[pos:stop].decode()
            pos = stop
        elif kind == 123 or kind == 122:  # float64, bigint
            pos += 8
            if pos > end:
                raise ProtocolError(f"8-byte Any number at byte {pos - 8}, {end - pos + 8} present")
        elif kind == 125:  # varInt
            if data[pos] < 0x80:
                pos += 1
            else:
                pos = _skip_int_tail(data, pos + 1)
        elif kind == 124:  # float32
            pos += 4
            if pos > end:
                raise ProtocolError(f"4-byte Any number at byte {pos - 4}, {end - pos + 4} present")
        elif kind == 118 or kind == 117:  # object, array
            size = data[pos]
            pos += 1
            if size >= 0x80:
                size, pos = uint_tail(data, pos, size)
            least = size * 2 if kind == 118 else size
            if least > end - pos:
                what = "object" if kind == 118 else "array"
                raise ProtocolError(
                    f"Any {what} at byte {pos} declares {size} entries "
                    f"(at least {least} bytes), {end - pos} bytes present"
                )
            if len(stack) >= MAX_ANY_DEPTH:
                raise ProtocolError(f"Any value nests more than {MAX_ANY_DEPTH} containers")
            stack.append(left * 2 + in_object)
            left = size
            in_object = kind == 118
        elif 120 <= kind <= 127:  # undefined, null, true, false: nothing follows
            pass
        elif kind == 116:  # Uint8Array
            size = data[pos]
            pos += 1
            if size >= 0x80:
                size, pos = uint_tail(data, pos, size)
            if size > end - pos:
                raise ProtocolError(
                    f"Any binary at byte {pos} declares {size} bytes, {end - pos} present"
                )
            pos += size
        else:
            raise ProtocolError(f"unknown Any type {kind} at byte {pos - 1}")


def update_roots(update: bytes) -> frozenset[str]:
    """The root type names a Yjs v1 update names, after checking all of it.

    Raises ProtocolError, saying what was declared and what was present, unless every
    count and length fits the bytes that follow it and the update ends exactly after
    its delete set.
    """
    data = update if type(update) is bytes else bytes(update)
    try:
        return _walk_update(data)
    except IndexError:
        raise ProtocolError(f"truncated update: its {len(data)} bytes end inside a value") from None
    except UnicodeDecodeError as error:
        raise ProtocolError(
            f"a string in the update is not UTF-8: {error.reason} in {error.object[:40]!r}"
        ) from None


def _walk_update(data: bytes) -> frozenset[str]:  # noqa: C901 (one branch per struct kind)
    end = len(data)
    roots: set[str] = set()
    uint_tail = _uint_tail
    skip_uint_tail = _skip_uint_tail

    clients = data[0]
    pos = 1
    if clients >= 0x80:
        clients, pos = uint_tail(data, pos, clients)
    if clients * 3 > end - pos:
        raise ProtocolError(
            f"update declares {clients} clients (at least {clients * 3} bytes), "
            f"{end - pos} bytes present"
        )
    while clients:
        clients -= 1
        structs = data[pos]
        pos += 1
        if structs >= 0x80:
            structs, pos = uint_tail(data, pos, structs)
        # client, clock
        if data[pos] < 0x80:
            pos += 1
        else:
            pos = skip_uint_tail(data, pos + 1)
        if data[pos] < 0x80:
            pos += 1
        else:
            pos = skip_uint_tail(data, pos + 1)
        if structs * 2 > end - pos:
            raise ProtocolError(
                f"client block at byte {pos} declares {structs} structs "
                f"(at least {structs * 2} bytes), {end - pos} bytes present"
            )
        while structs:
            structs -= 1
            info = data[pos]
            pos += 1
            ref = info & 0x1F
            if ref in (_GC, _SKIP):
                if info != ref:
                    raise ProtocolError(
                        f"struct at byte {pos - 1} has info {info:#04x}: flags on a GC or Skip"
                    )
                if data[pos] < 0x80:
                    pos += 1
                else:
                    pos = skip_uint_tail(data, pos + 1)
                continue
            if info & 0xC0:
                if info & 0x80:  # origin: client, clock
                    if data[pos] < 0x80:
                        pos += 1
                    else:
                        pos = skip_uint_tail(data, pos + 1)
                    if data[pos] < 0x80:
                        pos += 1
                    else:
                        pos = skip_uint_tail(data, pos + 1)
                if info & 0x40:  # right origin: client, clock
                    if data[pos] < 0x80:
                        pos += 1
                    else:
                        pos = skip_uint_tail(data, pos + 1)
                    if data[pos] < 0x80:
                        pos += 1
                    else:
                        pos = skip_uint_tail(data, pos + 1)
            else:  # no origins: the parent is written, a root name or an item's ID
                flag = data[pos]
                pos += 1
                if flag == 1:
                    size = data[pos]
                    pos += 1
                    if size >= 0x80:
                        size, pos = uint_tail(data, pos, size)
                    stop = pos + size
                    if stop > end:
                        raise ProtocolError(
                            f"root name at byte {pos} declares {size} bytes, {end - pos} present"
                        )
                    if size > MAX_NAME_BYTES:
                        raise ProtocolError(
                            f"root name of {size} bytes at byte {pos}, at most {MAX_NAME_BYTES}"
                        )
                    roots.add(data[pos:stop].decode())
                    pos = stop
                elif flag == 0:
                    if data[pos] < 0x80:
                        pos += 1
                    else:
                        pos = skip_uint_tail(data, pos + 1)
                    if data[pos] < 0x80:
                        pos += 1
                    else:
                        pos = skip_uint_tail(data, pos + 1)
                else:
                    raise ProtocolError(
                        f"parent info at byte {pos - 1} is {flag}, expected 0 (an item) "
                        "or 1 (a root name)"
                    )
                if info & 0x20:  # parent sub: the key in a map
                    size = data[pos]
                    pos += 1
                    if size >= 0x80:
                        size, pos = uint_tail(data, pos, size)
                    stop = pos + size
                    if stop > end:
                        raise ProtocolError(
                            f"map key at byte {pos} declares {size} bytes, {end - pos} present"
                        )
                    if size > MAX_NAME_BYTES:
                        raise ProtocolError(
                            f"map key of {size} bytes at byte {pos}, at most {MAX_NAME_BYTES}"
                        )
                    data[pos:stop].decode()
                    pos = stop
            if ref == _ANY:
                size = data[pos]
                pos += 1
                if size >= 0x80:
                    size, pos = uint_tail(data, pos, size)
                if size > end - pos:
                    raise ProtocolError(
                        f"Any content at byte {pos} declares {size} values, "
                        f"{end - pos} bytes present"
                    )
                pos = _skip_anys(data, pos, end, size)
            elif ref in (_STRING, _EMBED):  # text; embed: JSON text
                size = data[pos]
                pos += 1
                if size >= 0x80:
                    size, pos = uint_tail(data, pos, size)
                stop = pos + size
                if stop > end:
                    raise ProtocolError(
                        f"string at byte {pos} declares {size} bytes, {end - pos} present"
                    )
                data[pos:stop].decode()
                pos = stop
            elif ref == _DELETED:  # a length in clocks
                if data[pos] < 0x80:
                    pos += 1
                else:
                    pos = skip_uint_tail(data, pos + 1)
            elif ref == _TYPE:
                type_ref = data[pos]
                pos += 1
                if type_ref == _XML_ELEMENT:
                    size = data[pos]
                    pos += 1
                    if size >= 0x80:
                        size, pos = uint_tail(data, pos, size)
                    stop = pos + size
                    if stop > end:
                        raise ProtocolError(
                            f"XML node name at byte {pos} declares {size} bytes, "
                            f"{end - pos} present"
                        )
                    data[pos:stop].decode()
                    pos = stop
                elif type_ref not in _PLAIN_TYPE_REFS:
                    raise ProtocolError(
                        f"type ref {type_ref} at byte {pos - 1}: only 0-4 and 6 (Array, Map, "
                        "Text, XmlElement, XmlFragment, XmlText) are read alike by Yjs and yrs"
                    )
            elif ref == _FORMAT:  # key, then JSON text
                for _ in (0, 1):
                    size = data[pos]
                    pos += 1
                    if size >= 0x80:
                        size, pos = uint_tail(data, pos, size)
                    stop = pos + size
                    if stop > end:
                        raise ProtocolError(
                            f"format string at byte {pos} declares {size} bytes, "
                            f"{end - pos} present"
                        )
                    data[pos:stop].decode()
                    pos = stop
            elif ref == _BINARY:
                size = data[pos]
                pos += 1
                if size >= 0x80:
                    size, pos = uint_tail(data, pos, size)
                if size > end - pos:
                    raise ProtocolError(
                        f"binary at byte {pos} declares {size} bytes, {end - pos} present"
                    )
                pos += size
            elif ref == _DOC:  # guid, then one Any of options
                size = data[pos]
                pos += 1
                if size >= 0x80:
                    size, pos = uint_tail(data, pos, size)
                stop = pos + size
                if stop > end:
                    raise ProtocolError(
                        f"sub-document guid at byte {pos} declares {size} bytes, "
                        f"{end - pos} present"
                    )
                data[pos:stop].decode()
                pos = _skip_anys(data, stop, end, 1)
            elif ref == _JSON:
                raise ProtocolError(
                    f"JSON content (ref 2) at byte {pos - 1}: Yjs and yrs read its length "
                    "differently"
                )
            else:
                raise ProtocolError(f"unknown content ref {ref} at byte {pos - 1}")

    # The delete set: per client, ranges of (clock, length).
    clients = data[pos]
    pos += 1
    if clients >= 0x80:
        clients, pos = uint_tail(data, pos, clients)
    if clients * 2 > end - pos:
        raise ProtocolError(
            f"delete set declares {clients} clients (at least {clients * 2} bytes), "
            f"{end - pos} bytes present"
        )
    while clients:
        clients -= 1
        if data[pos] < 0x80:
            pos += 1
        else:
            pos = skip_uint_tail(data, pos + 1)
        ranges = data[pos]
        pos += 1
        if ranges >= 0x80:
            ranges, pos = uint_tail(data, pos, ranges)
        if ranges * 2 > end - pos:
            raise ProtocolError(
                f"delete set client at byte {pos} declares {ranges} ranges "
                f"(at least {ranges * 2} bytes), {end - pos} bytes present"
            )
        ranges *= 2
        while ranges:
            ranges -= 1
            if data[pos] < 0x80:
                pos += 1
            else:
                pos = skip_uint_tail(data, pos + 1)
    if pos != end:
        raise ProtocolError(f"{end - pos} unexpected bytes after the update's delete set")
    return frozenset(roots)


def check_state_vector(sv: bytes) -> None:
    """Raise ProtocolError unless `sv` is exactly a lib0 state vector: a count, then
    that many (client, clock) varUint pairs, and nothing after them."""
    data = sv if type(sv) is bytes else bytes(sv)
    end = len(data)
    try:
        count = data[0]
        pos = 1
        if count >= 0x80:
            count, pos = _uint_tail(data, pos, count)
        if count * 2 > end - pos:
            raise ProtocolError(
                f"state vector declares {count} entries (at least {count * 2} bytes), "
                f"{end - pos} bytes present"
            )
        count *= 2
        while count:
            count -= 1
            if data[pos] < 0x80:
                pos += 1
            else:
                pos = _skip_uint_tail(data, pos + 1)
    except IndexError:
        raise ProtocolError(f"truncated state vector: its {end} bytes end inside a value") from None
    if pos != end:
        raise ProtocolError(f"{end - pos} unexpected bytes after the state vector's entries")
