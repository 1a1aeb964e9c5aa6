"""crdt/wire.py: declared counts and lengths are checked against the bytes present,
and the root names an update writes are found, before pycrdt decodes anything."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycrdt import (
    Array,
    Doc,
    Map,
    Text,
    TransactionEvent,
    XmlElement,
    XmlFragment,
    XmlText,
    merge_updates,
)

from crdt.errors import ProtocolError
from crdt.wire import MAX_ANY_DEPTH, check_state_vector, update_roots

JS_DIR = Path(__file__).with_name("js")
HOSTILE_STATE_VECTOR = bytes.fromhex("ccf8dc92a3503175b5a1")
STROKE = {
    "d": "M 10 10 L 20 20 L 30 25 L 40 32",
    "color": "#1e1e1e",
    "width": 2,
    "ts": 1764100000000,
}


# -- a small lib0 v1 encoder, to build updates byte by byte -----------------------------------


def vu(n: int) -> bytes:
    """lib0 varUint."""
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def vi(n: int) -> bytes:
    """lib0 varInt: 6 bits and the sign in the first byte."""
    negative, n = n < 0, abs(n)
    out = bytearray([(0x80 if n > 0x3F else 0) | (0x40 if negative else 0) | (n & 0x3F)])
    n >>= 6
    while n:
        out.append((0x80 if n > 0x7F else 0) | (n & 0x7F))
        n >>= 7
    return bytes(out)


def vs(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return vu(len(raw)) + raw


def root_item(
    content_ref: int, content: bytes, root: str | bytes = "paths", key: str | None = "k"
) -> bytes:
    info = content_ref | (0x20 if key is not None else 0)
    return bytes([info]) + b"\x01" + vs(root) + (vs(key) if key is not None else b"") + content


def update(*structs: bytes, client: int = 7, clock: int = 0, delete_set: bytes = b"\x00") -> bytes:
    return b"\x01" + vu(len(structs)) + vu(client) + vu(clock) + b"".join(structs) + delete_set


def any_item(*values: bytes, root: str = "paths", key: str | None = "k") -> bytes:
    return update(root_item(8, vu(len(values)) + b"".join(values), root, key))


def refused(data: bytes, check: Callable[[bytes], object] = update_roots) -> str:
    with pytest.raises(ProtocolError) as caught:
        check(data)
    assert caught.value.code == 4400
    return caught.value.reason


def roots_or_refused(data: bytes) -> frozenset[str] | None:
    """update_roots' answer, None for a ProtocolError; any other exception fails the test."""
    try:
        return update_roots(data)
    except ProtocolError:
        return None


def pycrdt_applies_or_refuses(data: bytes) -> None:
    """A fresh pycrdt Doc applies the bytes or raises ValueError (cannot decode) or
    RuntimeError (cannot integrate: an item's parent ID names an item that is no shared
    type, and the structs before it stay applied); merge_updates likewise. A panic is a
    BaseException (pyo3's PanicException) and fails the test; a crash ends it."""
    with contextlib.suppress(ValueError, RuntimeError):
        Doc().apply_update(data)
    with contextlib.suppress(ValueError):
        merge_updates(data, b"\x00\x00")


# -- updates pycrdt writes ----------------------------------------------------------------------

ROOTS: dict[str, type] = {"paths": Map, "m2": Map, "arr": Array, "täxt": Text, "x": XmlFragment}
SHARED = ("Map", "Array", "Text", "XmlElement", "XmlText", "Doc")  # what new_shared makes

any_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.binary(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)
attributes = st.dictionaries(
    st.sampled_from(["bold", "italic", "href", "ü"]),
    st.none() | st.booleans() | st.integers(0, 9) | st.text(max_size=4),
    max_size=2,
)
operations = st.lists(
    st.tuples(
        st.integers(0, 2),  # which client
        st.sampled_from(["set", "insert", "delete", "format", "embed", "sync"]),
        st.integers(0, 1_000),  # which shared type (or which client to sync with)
        st.integers(0, 1_000),  # index
        st.integers(1, 4),  # length
        st.one_of(any_values, st.sampled_from(SHARED)),
        st.text(min_size=1, max_size=6),  # key or text
        attributes,
    ),
    max_size=24,
)


def shared_types(doc: Doc) -> list[tuple[str | None, Any]]:
    """(root name, shared type) for every root, then (None, nested type) for the rest."""
    found: list[tuple[str | None, Any]] = [
        (name, doc.get(name, type=kind)) for name, kind in ROOTS.items()
    ]
    queue = [shared for _, shared in found]
    while queue:
        shared = queue.pop()
        if isinstance(shared, Map):
            children = list(shared.values())
        elif isinstance(shared, Array):
            children = list(shared)
        elif isinstance(shared, (XmlFragment, XmlElement)):
            children = list(shared.children)
        else:
            children = []
        for child in children:
            if isinstance(child, (Map, Array, Text, XmlElement, XmlText, XmlFragment)):
                found.append((None, child))
                queue.append(child)
    return found


def new_shared(kind: str, key: str, attrs: dict[str, Any], subdocs: list[Doc]) -> Any:
    text = key.encode("ascii", "backslashreplace").decode()  # see apply_operation
    if kind == "Map":
        return Map({"a": 1, key: [key]})
    if kind == "Array":
        return Array([text, 1.5, None])
    if kind == "Text":
        return Text(text)
    # pycrdt puts XML nodes into maps and arrays only inside a fragment.
    if kind == "XmlElement":
        return XmlFragment([XmlElement("p", {"class": text}, [XmlText(text)])])
    if kind == "XmlText":
        return XmlFragment([XmlText(text)])
    subdoc = Doc({"inner": Text(text)})
    subdocs.append(subdoc)
    return subdoc


def apply_operation(
    docs: list[Doc], known: list[set[str]], operation: tuple, subdocs: list[Doc]
) -> None:
    who, op, pick, index, length, value, text, attrs = operation
    doc = docs[who]
    if op == "sync":
        other = pick % len(docs)
        if other == who:
            return
        state = docs[other].get_state()
        check_state_vector(state)
        diff = doc.get_update(state)
        assert update_roots(diff) <= known[who]
        docs[other].apply_update(diff)
        known[other] |= known[who]
        return
    targets = shared_types(doc)
    root, target = targets[pick % len(targets)]
    wrote = False
    if isinstance(target, Map):
        if op == "delete":
            keys = list(target.keys())
            if keys:
                del target[keys[index % len(keys)]]
        else:
            target[text] = new_shared(value, text, attrs, subdocs) if value in SHARED else value
            wrote = True
    elif isinstance(target, (Text, XmlText)):
        # pycrdt counts a text's length in UTF-8 bytes and removes by characters: edit ASCII.
        text = text.encode("ascii", "backslashreplace").decode()
        size = len(target)
        if op == "delete" and size:
            start = index % size
            del target[start : min(size, start + length)]
        elif op == "format" and size:
            start = index % size
            target.format(start, min(size, start + length), attrs)
        elif op == "embed":
            target.insert_embed(index % (size + 1), {"image": text}, attrs or None)
            wrote = True
        elif op == "set" and isinstance(target, XmlText):
            target.attributes[text] = text
        else:
            target.insert(index % (size + 1), text, attrs or None)
            wrote = True
    elif isinstance(target, Array):
        size = len(target)
        if op == "delete" and size:
            start = index % size
            del target[start : min(size, start + length)]
        else:
            item = new_shared(value, text, attrs, subdocs) if value in SHARED else value
            target.insert(index % (size + 1), item)
            wrote = True
    else:  # XmlFragment, XmlElement
        children = target.children
        size = len(children)
        if op == "delete" and size:
            start = index % size
            del children[start : min(size, start + length)]
        elif op == "set" and isinstance(target, XmlElement):
            target.attributes[text] = text
        else:
            child = XmlText(text) if value == "XmlText" else XmlElement("p", attrs and {"a": text})
            children.insert(index % (size + 1), child)
            wrote = True
    if wrote and root is not None:
        known[who].add(root)


@settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(operations)
def test_every_update_pycrdt_writes_is_accepted_and_names_exactly_the_roots_written(ops):
    docs = [Doc(client_id=101 + i * 1_000_003) for i in range(3)]
    known: list[set[str]] = [set() for _ in docs]
    observed: list[list[bytes]] = [[] for _ in docs]
    subscriptions = []
    for i, doc in enumerate(docs):

        def keep(event: TransactionEvent, i: int = i) -> None:
            observed[i].append(event.update)

        subscriptions.append(doc.observe(keep))
    subdocs: list[Doc] = []
    for operation in ops:
        before = [len(updates) for updates in observed]
        apply_operation(docs, known, operation, subdocs)
        for updates, seen, roots in zip(observed, before, known, strict=True):
            for incremental in updates[seen:]:
                assert update_roots(incremental) <= roots
    everything = set().union(*known)
    for doc, roots in zip(docs, known, strict=True):
        assert update_roots(doc.get_update()) == roots
        check_state_vector(doc.get_state())
        assert update_roots(doc.get_update(docs[0].get_state())) <= roots
    all_observed = [u for updates in observed for u in updates]
    for updates in observed:
        if updates:
            assert update_roots(merge_updates(*updates)) <= everything
    if all_observed:
        assert update_roots(merge_updates(*all_observed)) == everything
    assert update_roots(merge_updates(*(doc.get_update() for doc in docs))) == everything
    for subdoc in subdocs:
        assert update_roots(subdoc.get_update()) == {"inner"}
    for subscription, doc in zip(subscriptions, docs, strict=True):
        doc.unobserve(subscription)


def rich_update() -> bytes:
    """An update with every kind of content pycrdt writes, from two clients, with deletions."""
    doc = Doc(client_id=3)
    other = Doc(client_id=2**40 + 5)
    paths = doc.get("paths", type=Map)
    paths["k"] = Array([STROKE])
    paths["k"].append({**STROKE, "ts": STROKE["ts"] + 1})
    del paths["k"][0]
    paths["sub"] = Doc({"inner": Text("hi")})
    paths["any"] = {
        "n": None,
        "t": True,
        "f": False,
        "i": -7,
        "x": 1.5,
        "b": b"\x00\xff",
        "l": [1, [2]],
    }
    text = doc.get("täxt", type=Text)
    text.insert(0, "hello wörld 😀", {"bold": True})
    text.insert_embed(3, {"image": "x.png"})
    text.format(1, 6, {"italic": True})
    del text[0:2]
    fragment = doc.get("x", type=XmlFragment)
    element = XmlElement("p", {"class": "c"}, [XmlText("in")])
    fragment.children.append(element)
    fragment.children.append(XmlText("tail"))
    element.children[0].format(0, 1, {"b": True})
    element.children[0].insert_embed(1, {"e": 1})
    other.apply_update(doc.get_update())
    other.get("arr", type=Array).extend([1, "two", Map({"three": 3}), Text("four")])
    del other.get("paths", type=Map)["any"]
    return other.get_update()


def yjs_updates() -> list[dict[str, Any]]:
    node = shutil.which("node")
    if node is None or not (JS_DIR / "node_modules" / "yjs").is_dir():
        pytest.skip("node and tests/js/node_modules/yjs are needed")
    script = r"""
import * as Y from 'yjs'
const out = []
const hex = u => Buffer.from(u).toString('hex')
const full = (name, doc, roots) =>
  out.push({ name, roots, updates: [hex(Y.encodeStateAsUpdate(doc))] })
{
  const doc = new Y.Doc()
  const updates = []
  doc.on('update', u => updates.push(hex(u)))
  const paths = doc.getMap('paths')
  const stroke = ts => ({ d: 'M 10 10 L 20 20', color: '#1e1e1e', width: 2, ts })
  doc.transact(() => {
    const a = new Y.Array(); a.push([stroke(1764100000000)]); paths.set('k', a)
  })
  doc.transact(() => {
    const a = paths.get('k'); a.push([stroke(1764100000001)]); a.delete(0, 1)
  })
  out.push({ name: 'stroke updates', roots: null, updates })
  full('strokes', doc, ['paths'])
}
{
  const doc = new Y.Doc()
  const m = doc.getMap('m')
  m.set('u', undefined); m.set('n', null); m.set('b', true); m.set('i', -12345); m.set('f', 1.25)
  m.set('big', 2n ** 60n); m.set('s', 'é😀'); m.set('bin', new Uint8Array([1, 2, 255]))
  m.set('o', { a: [1, { b: null }], c: 'x' })
  m.set('nested', new Y.Map()); m.get('nested').set('t', new Y.Text('hi'))
  const t = doc.getText('t')
  t.insert(0, 'hello world', { bold: true }); t.insertEmbed(3, { image: 'x.png' })
  t.format(1, 4, { italic: true }); t.delete(0, 2)
  const x = doc.getXmlFragment('x')
  const el = new Y.XmlElement('p'); el.setAttribute('class', 'c')
  x.insert(0, [el, new Y.XmlText('tail')]); el.insert(0, [new Y.XmlText('in')])
  const a = doc.getArray('a'); a.insert(0, [1, 2, 3]); a.insert(1, [new Y.Array()]); a.delete(0, 1)
  m.set('sub', new Y.Doc())
  full('everything', doc, ['m', 't', 'x', 'a'])
}
{
  const doc = new Y.Doc()
  doc.getXmlFragment('h').insert(0, [new Y.XmlHook('hook')])
  full('xml hook', doc, ['h'])
}
console.log(JSON.stringify(out))
"""
    done = subprocess.run(
        [node, "--input-type=module", "-e", script],
        cwd=JS_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


def test_every_update_yjs_writes_is_accepted_and_names_exactly_its_roots():
    cases = {case["name"]: case for case in yjs_updates()}
    for update_hex in cases["stroke updates"]["updates"]:
        assert update_roots(bytes.fromhex(update_hex)) <= {"paths"}
    assert update_roots(bytes.fromhex(cases["stroke updates"]["updates"][0])) == {"paths"}
    for name in ("strokes", "everything"):
        (update_hex,) = cases[name]["updates"]
        assert update_roots(bytes.fromhex(update_hex)) == set(cases[name]["roots"])


def test_an_xml_hook_is_refused_because_yjs_writes_its_name_and_yrs_reads_none():
    cases = {case["name"]: case for case in yjs_updates()}
    (update_hex,) = cases["xml hook"]["updates"]
    assert "type ref 5" in refused(bytes.fromhex(update_hex))


def test_an_empty_update_is_valid_and_names_no_root():
    assert update_roots(b"\x00\x00") == frozenset()
    assert update_roots(Doc().get_update()) == frozenset()
    assert update_roots(bytearray(b"\x00\x00")) == frozenset()


def test_a_stroke_update_names_paths_and_the_rich_update_all_its_roots():
    doc = Doc()
    doc.get("paths", type=Map)["k"] = Array([STROKE])
    assert update_roots(doc.get_update()) == {"paths"}
    assert update_roots(rich_update()) == {"paths", "täxt", "x", "arr"}


# -- state vectors ------------------------------------------------------------------------------


def test_state_vectors_from_pycrdt_are_accepted():
    doc = Doc(client_id=1)
    check_state_vector(doc.get_state())
    assert doc.get_state() == b"\x00"
    doc.get("paths", type=Map)["k"] = 1
    check_state_vector(doc.get_state())
    for client_id in (127, 128, 2**32 - 1, 2**53 - 1):
        other = Doc(client_id=client_id)
        other.apply_update(doc.get_update())
        other.get("täxt", type=Text).insert(0, "x" * 300)
        check_state_vector(other.get_state())
    check_state_vector(vu(1) + vu(2**64 - 1) + vu(2**64 - 1))


def test_the_hostile_state_vector_and_other_counts_beyond_the_bytes_are_refused_quickly():
    reason = refused(HOSTILE_STATE_VECTOR, check_state_vector)
    # The count takes 6 bytes; 4 follow (one entry and half of another).
    assert "2758213581900 entries" in reason and "4 bytes present" in reason
    # A loop that would take minutes if each call cost what pycrdt spends on it (0.8 s).
    for _ in range(10_000):
        with pytest.raises(ProtocolError):
            check_state_vector(HOSTILE_STATE_VECTOR)
    for count in (1, 2, 3, 2**32, 2**63, 2**64 - 1):
        refused(vu(count) + b"\x01\x01" * (count // 2 if count < 4 else 1), check_state_vector)
    assert "declares 2 entries" in refused(b"\x02\x01\x01\x01", check_state_vector)


@pytest.mark.parametrize(
    "sv, words",
    [
        (b"", "truncated"),
        (b"\x01\x05", "declares 1 entries"),
        (b"\x02\x05\x05\x05", "declares 2 entries"),
        (b"\x01\x85\x05", "truncated"),
        (b"\x01\x05\x05\x00", "1 unexpected bytes"),
        (b"\x00\x00", "1 unexpected bytes"),
        (b"\x01" + b"\xff" * 10 + b"\x01\x05", "longer than 10 bytes"),
        (b"\x01" + b"\xff" * 9 + b"\x02\x05", "beyond 2**64"),
        (b"\x80", "truncated"),
    ],
)
def test_malformed_state_vectors_are_refused(sv, words):
    assert words in refused(sv, check_state_vector)


# -- corruptions --------------------------------------------------------------------------------


def real_updates() -> Iterator[bytes]:
    yield rich_update()
    doc = Doc(client_id=2**31 + 9)
    doc.get("paths", type=Map)["k"] = Array([STROKE])
    state = doc.get_state()
    register = doc.get("paths", type=Map)["k"]
    register.append({**STROKE, "ts": STROKE["ts"] + 1})
    del register[0]
    yield doc.get_update(state)


def test_every_truncation_of_a_real_update_is_refused():
    for data in real_updates():
        for cut in range(len(data)):
            refused(data[:cut])


HUGE = [
    vu(2**32),
    vu(2**63),
    vu(2**64 - 1),
    b"\xff" * 9 + b"\x02",  # beyond 2**64
    b"\xff" * 10 + b"\x01",  # 11 bytes
    b"\x80" * 20 + b"\x00",
]


def mutations(data: bytes) -> Iterator[bytes]:
    """Each byte replaced by huge or overlong varUints and by a few telling values; each byte
    dropped; a byte inserted everywhere."""
    replacements = [*HUGE, b"\x00", b"\x01", b"\x02", b"\x05", b"\x0a", b"\x7f", b"\x80", b"\xff"]
    for i in range(len(data)):
        for replacement in replacements:
            yield data[:i] + replacement + data[i + 1 :]
        yield data[:i] + data[i + 1 :]
        yield data[:i] + b"\x01" + data[i:]


def test_corruptions_of_real_updates_are_refused_or_valid_and_never_crash():
    count = 0
    for data in real_updates():
        for mutated in mutations(data):
            roots_or_refused(mutated)
            count += 1
    assert count > 5_000


def test_whatever_update_roots_accepts_pycrdt_applies_or_refuses_with_value_error():
    accepted = 0
    for data in real_updates():
        for mutated in mutations(data):
            if roots_or_refused(mutated) is not None:
                accepted += 1
                pycrdt_applies_or_refuses(mutated)
    assert accepted > 100


@settings(max_examples=500, derandomize=True, deadline=None)
@given(st.binary(max_size=64))
def test_random_bytes_are_refused_or_accepted_and_then_applied_by_pycrdt(data):
    if roots_or_refused(data) is not None:
        pycrdt_applies_or_refuses(data)


COUNTED = {
    "clients": vu(2**40) + b"\x00",
    "clients just beyond": b"\x02" + b"\x00\x07\x00" + b"\x00",
    "structs": b"\x01" + vu(2**32) + b"\x07\x00" + b"\x00",
    "structs just beyond": b"\x01\x03\x07\x00" + b"\x00\x01\x00\x01",
    "root name": update(b"\x27\x01" + vu(1000) + b"paths" + vs("k") + b"\x00"),
    "map key": update(b"\x27\x01" + vs("paths") + vu(2**33) + b"k\x00"),
    "string": update(root_item(4, vu(7) + b"hello")),
    "embed": update(root_item(5, vu(2**62) + b"{}")),
    "format": update(root_item(6, vs("bold") + vu(10) + b"true")),
    "binary": update(root_item(3, vu(2**40) + b"\x00")),
    "xml node name": update(root_item(7, b"\x03" + vu(99) + b"p")),
    "any count": update(root_item(8, vu(2**40) + b"\x7e")),
    "any count just beyond": update(root_item(8, vu(3) + b"\x7e\x7e"), delete_set=b""),
    "any object": any_item(b"\x76" + vu(2**40) + vs("a") + b"\x7e"),
    "any object just beyond": update(
        root_item(8, b"\x01\x76\x02" + vs("a") + b"\x7e"), delete_set=b""
    ),
    "any array": any_item(b"\x75" + vu(2**40) + b"\x7e"),
    "any string": any_item(b"\x77" + vu(2**40) + b"x"),
    "any binary": any_item(b"\x74" + vu(2**40) + b"x"),
    "any key": any_item(b"\x76\x01" + vu(2**40) + b"a\x7e"),
    "sub-document guid": update(root_item(9, vu(2**40) + b"g\x7e")),
    "delete set clients": b"\x00" + vu(2**40) + b"\x07\x00",
    "delete set ranges": b"\x00\x01\x07" + vu(2**40) + b"\x00\x01",
    "delete set ranges just beyond": b"\x00\x01\x07\x02\x00\x01\x05",
}


@pytest.mark.parametrize("name", sorted(COUNTED))
def test_counts_and_lengths_beyond_the_bytes_present_are_refused(name):
    reason = refused(COUNTED[name])
    assert "declares" in reason and "present" in reason


def test_counted_corruptions_are_refused_and_pycrdt_survives_them():
    for name, data in COUNTED.items():
        assert roots_or_refused(data) is None, name
        # yrs reads most counts as u32, modulo 2**32: it takes "structs" (2**32) for 0
        # structs and applies it.
        pycrdt_applies_or_refuses(data)


def test_an_item_whose_parent_is_no_shared_type_passes_here_and_pycrdt_raises_runtime_error():
    """Structure is checked here, not what IDs point at: pycrdt raises RuntimeError for
    such an update, after applying the structs before the bad one."""
    data = update(root_item(8, b"\x01\x7e", key="a"), b"\x04\x00\x07\x00" + vs("child"))
    assert update_roots(data) == {"paths"}
    doc = Doc()
    with pytest.raises(RuntimeError, match="must be deleted or shared ref type"):
        doc.apply_update(data)


@pytest.mark.parametrize(
    "data, words",
    [
        (b"\x01" + b"\xff" * 10 + b"\x01" + b"\x07\x00\x00", "longer than 10 bytes"),
        (update(b"\x00" + b"\xff" * 10 + b"\x01"), "longer than 10 bytes"),
        (update(b"\x00" + b"\xff" * 9 + b"\x02"), "beyond 2**64"),
        (update(b"\x00\x05", client=2**64), "beyond 2**64"),
        (update(b"\x00\x05", clock=2**64 + 5), "beyond 2**64"),
        (any_item(b"\x7d" + b"\xff" * 10 + b"\x01"), "longer than 10 bytes"),
        (any_item(b"\x7d" + b"\xff" * 9 + b"\x02"), "beyond 2**63"),
        (update(root_item(4, b"\x80" * 10 + b"\x00")), "longer than 10 bytes"),
        (b"\x01\x01" + b"\xff" * 100_000, "longer than 10 bytes"),
        (any_item(b"\x7d" + b"\xff" * 100_000), "longer than 10 bytes"),
    ],
)
def test_varuints_of_more_than_10_bytes_or_beyond_2_64_are_refused(data, words):
    assert words in refused(data)


def test_varuints_and_varints_up_to_the_limits_are_accepted():
    assert update_roots(update(b"\x00" + vu(2**64 - 1), client=2**64 - 1, clock=2**64 - 1)) == set()
    varints = [b"\x7d" + vi(n) for n in (2**63 - 1, -(2**63 - 1), 0, -64, 64, -1)]
    assert update_roots(any_item(*varints)) == {"paths"}
    assert update_roots(update(root_item(4, b"\x82\x80\x80\x80\x80\x80\x80\x80\x80\x00ab"))) == {
        "paths"
    }


@pytest.mark.parametrize("info", [0x80, 0x40, 0x20, 0x8A, 0x2A, 0x10, 0x14, 0x1A, 0x1F])
def test_flags_on_gc_or_skip_and_content_refs_beyond_9_are_refused(info):
    data = update(bytes([info]) + b"\x01\x07\x00\x01" + vs("paths") + vs("k") + vs("x"))
    reason = refused(data)
    assert "info" in reason or "content ref" in reason


def test_json_content_is_refused_because_yjs_and_yrs_read_its_length_differently():
    # Yjs reads len strings; yrs (pycrdt 0.14.13) reads len + 1.
    for strings in ([], ['"a"'], ['"a"', '"b"']):
        data = update(root_item(2, vu(len(strings)) + b"".join(vs(s) for s in strings)))
        assert "JSON content" in refused(data)


@pytest.mark.parametrize("type_ref", [5, 7, 8, 9, 15, 16, 127, 128, 255])
def test_type_refs_yjs_and_yrs_do_not_read_alike_are_refused(type_ref):
    assert f"type ref {type_ref}" in refused(update(root_item(7, bytes([type_ref]) + vs("h"))))


@pytest.mark.parametrize("type_ref", [0, 1, 2, 4, 6])
def test_type_refs_of_arrays_maps_texts_and_xml_are_accepted(type_ref):
    assert update_roots(update(root_item(7, bytes([type_ref])))) == {"paths"}
    assert update_roots(update(root_item(7, b"\x03" + vs("p"), root="x"))) == {"x"}


@pytest.mark.parametrize("flag", [2, 3, 0x7F, 0x80])
def test_parent_infos_other_than_0_and_1_are_refused(flag):
    data = update(bytes([0x24, flag]) + vs("paths") + vs("k") + vs("x"))
    assert "parent info" in refused(data)


def test_items_under_a_parent_item_or_with_origins_name_no_root():
    assert update_roots(update(b"\x24\x00\x07\x00" + vs("k") + vs("x"))) == set()
    assert update_roots(update(b"\xe4\x07\x00\x07\x01" + vs("x"))) == set()
    assert update_roots(update(b"\xa4\x07\x00" + vs("x"), b"\x64\x07\x00" + vs("y"))) == set()


@pytest.mark.parametrize("kind", [k for k in range(256) if not 116 <= k <= 127])
def test_unknown_any_types_are_refused(kind):
    assert f"unknown Any type {kind}" in refused(any_item(bytes([kind])))


def test_every_known_any_type_is_accepted():
    values = [
        b"\x7f",
        b"\x7e",
        b"\x7d" + vi(-5),
        b"\x7c" + b"\x40\x00\x00\x00",
        b"\x7b" + bytes(8),
        b"\x7a" + bytes(8),
        b"\x79",
        b"\x78",
        b"\x77" + vs("é"),
        b"\x76\x02" + vs("a") + b"\x7e" + vs("") + b"\x75\x01\x78",
        b"\x75\x00",
        b"\x74" + vs(b"\x00\xff"),
    ]
    data = any_item(*values)
    assert update_roots(data) == {"paths"}
    doc = Doc()
    doc.apply_update(data)
    assert len(doc.get("paths", type=Map)) == 1


def nested(depth: int, leaf: bytes = b"\x7e") -> bytes:
    return b"\x75\x01" * depth + leaf


def test_any_nesting_is_bounded_without_recursion():
    assert update_roots(any_item(nested(MAX_ANY_DEPTH))) == {"paths"}
    objects = b"\x76\x01" + vs("k")
    assert update_roots(any_item(objects * MAX_ANY_DEPTH + b"\x7e")) == {"paths"}
    for depth in (MAX_ANY_DEPTH + 1, 1_000, 100_000):
        assert f"more than {MAX_ANY_DEPTH}" in refused(any_item(nested(depth)))
    assert f"more than {MAX_ANY_DEPTH}" in refused(any_item(objects * 100_000 + b"\x7e"))
    # 50,000 levels kill pycrdt 0.14.13 with a stack overflow (SIGSEGV): refused here, quickly.
    deep = any_item(nested(50_000))
    for _ in range(1_000):
        with pytest.raises(ProtocolError):
            update_roots(deep)
    # In a sub-document's options too.
    assert "more than" in refused(update(root_item(9, vs("guid") + nested(100))))


def test_siblings_after_a_nested_any_are_read_at_their_own_level():
    value = b"\x76\x02" + vs("a") + b"\x75\x02\x7e\x76\x00" + vs("b") + b"\x77" + vs("x")
    assert update_roots(any_item(value, b"\x78")) == {"paths"}
    doc = Doc()
    doc.apply_update(any_item(value))
    assert doc.get("paths", type=Map)["k"] == {"a": [None, {}], "b": "x"}


BAD_UTF8 = [b"\xff", b"\xc3", b"\xed\xa0\x80", b"a\x80b", b"\xf4\x90\x80\x80", b"\xc0\xaf"]


@pytest.mark.parametrize("bad", BAD_UTF8)
def test_invalid_utf8_is_refused_in_every_string(bad):
    places = [
        update(root_item(4, vs("ok"), root=bad)),
        update(b"\x24\x01" + vs("paths") + vs(bad) + vs("x")),
        update(root_item(4, vs(bad))),
        update(root_item(5, vs(bad))),
        update(root_item(6, vs(bad) + vs("true"))),
        update(root_item(6, vs("bold") + vs(bad))),
        update(root_item(7, b"\x03" + vs(bad))),
        update(root_item(9, vs(bad) + b"\x76\x00")),
        any_item(b"\x77" + vs(bad)),
        any_item(b"\x76\x01" + vs(bad) + b"\x7e"),
    ]
    for data in places:
        assert "UTF-8" in refused(data)


def test_trailing_bytes_are_refused():
    assert "1 unexpected bytes" in refused(b"\x00\x00\x00")
    assert "3 unexpected bytes" in refused(rich_update() + b"\x00\x01\x02")


# -- cost ---------------------------------------------------------------------------------------


def cost_us(data: bytes, rounds: int) -> float:
    """Least CPU time per call of update_roots, in µs, over 5 runs of `rounds` calls."""
    best = float("inf")
    for _ in range(5):
        start = time.process_time()
        for _ in range(rounds):
            update_roots(data)
        best = min(best, (time.process_time() - start) / rounds)
    return best * 1e6


def test_a_stroke_update_costs_microseconds(capsys):
    doc = Doc(client_id=1_234_567_890)
    paths = doc.get("paths", type=Map)
    paths["V1StGXR8_Z5jdHi6B-myT"] = Array([STROKE])
    new_register = doc.get_update()
    state = doc.get_state()
    register = paths["V1StGXR8_Z5jdHi6B-myT"]
    register.append({**STROKE, "ts": STROKE["ts"] + 1})
    del register[0]
    superseding = doc.get_update(state)
    big = Doc(client_id=987_654_321)
    big_paths = big.get("paths", type=Map)
    with big.transaction():
        for i in range(20_000):
            big_paths[f"stroke-{i:06d}-{i % 7}"] = Array([{**STROKE, "ts": STROKE["ts"] + i}])
    many = big.get_update()
    start = time.process_time()
    Doc().apply_update(many)
    apply_ms = (time.process_time() - start) * 1e3
    figures = {
        f"new register ({len(new_register)} B)": cost_us(new_register, 2_000),
        f"superseding version ({len(superseding)} B)": cost_us(superseding, 2_000),
        f"20,000 strokes ({len(many) / 1e6:.1f} MB)": cost_us(many, 1),
    }
    with capsys.disabled():
        print()
        for what, us in figures.items():
            print(f"update_roots, {what}: {us:,.1f} µs")
        print(f"pycrdt Doc.apply_update of the 20,000 strokes: {apply_ms * 1e3:,.0f} µs")
    assert update_roots(many) == {"paths"}
    assert 1.8e6 < len(many) < 2.6e6


def test_root_names_and_map_keys_longer_than_a_path_id_are_refused() -> None:
    # Yjs keeps these strings after the content they name is deleted: a longer one could
    # carry data past the removal of other roots.
    for length, accepted in ((64, True), (65, False)):
        named_root = Doc()
        named_root.get("r" * length, type=Text).insert(0, "x")
        keyed = Doc()
        keyed.get("paths", type=Map)["k" * length] = "v"
        for update in (named_root.get_update(), keyed.get_update()):
            if accepted:
                update_roots(update)
            else:
                with pytest.raises(ProtocolError, match="at most 64"):
                    update_roots(update)
