"""Last-write-wins registers: canonical JSON, the order of versions, writing and reading."""

from __future__ import annotations

import pytest
from pycrdt import Array, Doc

from crdt.paths import (
    canonical,
    paths_map,
    read_paths,
    winner,
    wins,
    write_path,
)
from crdt.paths import path_entry as PathEntry


def stroke(ts: float, *, d: str = "M 0 0 L 10 10", color: str = "#1e1e1e", width: float = 2.0):
    return {"d": d, "color": color, "width": width, "ts": ts}


def tombstone(ts: float):
    return {"deleted": True, "ts": ts}


# Expected texts printed by node v20: JSON.stringify({ts: value}).
NODE_NUMBERS = [
    (2.0, '{"ts":2}'),
    (0.0, '{"ts":0}'),
    (-0.0, '{"ts":0}'),
    (-5.0, '{"ts":-5}'),
    (1764100000000.0, '{"ts":1764100000000}'),
    (1764100000000.5, '{"ts":1764100000000.5}'),
    (0.1, '{"ts":0.1}'),
    (0.1 + 0.2, '{"ts":0.30000000000000004}'),
    (1 / 3, '{"ts":0.3333333333333333}'),
    (1e21, '{"ts":1e+21}'),
    (1e20, '{"ts":100000000000000000000}'),
    (123456789012345680000.0, '{"ts":123456789012345680000}'),
    (1.2345678901234568e22, '{"ts":1.2345678901234568e+22}'),
    (1e-7, '{"ts":1e-7}'),
    (-1e-7, '{"ts":-1e-7}'),
    (1.234e-7, '{"ts":1.234e-7}'),
    (1e-6, '{"ts":0.000001}'),
    (0.000001234, '{"ts":0.000001234}'),
    (1.5e-10, '{"ts":1.5e-10}'),
    (5e-324, '{"ts":5e-324}'),
    (1.7976931348623157e308, '{"ts":1.7976931348623157e+308}'),
    (9007199254740992.0, '{"ts":9007199254740992}'),
    (9007199254740994.0, '{"ts":9007199254740994}'),
    (999.9999999999999, '{"ts":999.9999999999999}'),
    (4.35, '{"ts":4.35}'),
    (1e300, '{"ts":1e+300}'),
    (float("nan"), '{"ts":null}'),
    (float("inf"), '{"ts":null}'),
    (float("-inf"), '{"ts":null}'),
]


@pytest.mark.parametrize(("number", "expected"), NODE_NUMBERS)
def test_canonical_writes_numbers_as_javascript_does(number, expected):
    assert canonical({"ts": number}) == expected


def test_canonical_sorts_keys_and_leaves_out_spaces():
    version = {"width": 2.0, "ts": 1764100000000.0, "d": "M 10 10 L 20 20", "color": "#1e1e1e"}
    assert canonical(version) == (
        '{"color":"#1e1e1e","d":"M 10 10 L 20 20","ts":1764100000000,"width":2}'
    )
    assert canonical({"ts": 5.0, "deleted": True}) == '{"deleted":true,"ts":5}'


def test_canonical_writes_integers_like_the_equal_double():
    assert canonical({"ts": 2, "width": 1764100000000}) == '{"ts":2,"width":1764100000000}'


def test_canonical_escapes_strings_as_javascript_does():
    # node: JSON.stringify({d: s}); control characters and lone surrogates are
    # escaped, everything else (U+007F, U+2028, U+2029, astral) is written raw.
    text = 'q"b\\s\n\t\r\b\f\x00\x1f\x7f\x80\u2028\u2029é😀\ud800x\udc00\ue000/<>'
    assert canonical({"d": text}) == (
        '{"d":"q\\"b\\\\s\\n\\t\\r\\b\\f\\u0000\\u001f'
        '\x7f\x80\u2028\u2029é😀\\ud800x\\udc00\ue000/<>"}'
    )


VERSION_ORDER = [
    ("greater ts wins", stroke(2.0), stroke(1.0), True),
    ("smaller ts loses", stroke(1.0), stroke(2.0), False),
    ("a tombstone with a greater ts wins", tombstone(3.0), stroke(2.0), True),
    ("a stroke with a greater ts beats a tombstone", stroke(4.0), tombstone(3.0), True),
    ("ts compares as a number, not as text", stroke(10.0), stroke(9.0), True),
    ("ints and floats are the same number", stroke(5), stroke(5.0), False),
    # Ties: the greater canonical text wins.
    ("tie: tombstone text beats stroke text", tombstone(7.0), stroke(7.0), True),
    ("tie: stroke text loses to tombstone text", stroke(7.0), tombstone(7.0), False),
    ("tie: greater color wins", stroke(7.0, color="#ffffff"), stroke(7.0, color="#000000"), True),
    ("tie: greater d wins", stroke(7.0, d="M 9 9"), stroke(7.0, d="M 10 10"), True),
    ("tie: width 2 beats width 10 as text", stroke(7.0, width=2.0), stroke(7.0, width=10.0), True),
    ("tie: equal versions do not beat each other", stroke(7.0), stroke(7.0), False),
    # "\U0001f600" is the UTF-16 pair D83D DE00, which sorts before U+E000 in JavaScript.
    ("tie: compared by UTF-16 code units", stroke(7.0, d="\ue000"), stroke(7.0, d="😀"), True),
]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [case[1:] for case in VERSION_ORDER],
    ids=[case[0] for case in VERSION_ORDER],
)
def test_wins_orders_by_ts_then_canonical_text(a, b, expected):
    assert wins(a, b) is expected


def test_winner_of_no_versions_is_none():
    assert winner([]) is None


@pytest.mark.parametrize(
    ("versions", "expected"),
    [
        ([stroke(1.0)], stroke(1.0)),
        ([stroke(1.0), stroke(3.0), stroke(2.0)], stroke(3.0)),
        ([tombstone(3.0), stroke(3.0)], tombstone(3.0)),
        ([stroke(3.0), tombstone(3.0)], tombstone(3.0)),
        (
            [stroke(5.0, color="#000000"), stroke(5.0, color="#ffffff")],
            stroke(5.0, color="#ffffff"),
        ),
    ],
)
def test_winner_is_the_version_that_beats_all_others_in_any_order(versions, expected):
    assert winner(versions) == expected
    assert winner(reversed(versions)) == expected


def test_writing_a_new_path_creates_its_register():
    doc = Doc()
    write_path(doc, "p1", {"d": "M 1 1 L 2 2", "color": "#e03131", "width": 3}, ts=1000)
    register = paths_map(doc)["p1"]
    assert isinstance(register, Array)
    assert register.to_py() == [
        {"d": "M 1 1 L 2 2", "color": "#e03131", "width": 3.0, "ts": 1000.0}
    ]


def test_a_newer_write_deletes_the_versions_it_supersedes():
    doc = Doc()
    write_path(doc, "p1", {"d": "M 1 1", "color": "#000000", "width": 1}, ts=1000)
    write_path(doc, "p1", {"d": "M 2 2", "color": "#000000", "width": 1}, ts=2000)
    write_path(doc, "p1", {"deleted": True}, ts=3000)
    assert paths_map(doc)["p1"].to_py() == [{"deleted": True, "ts": 3000.0}]


def test_an_older_write_keeps_the_newer_version_and_loses_to_it():
    doc = Doc()
    write_path(doc, "p1", {"d": "M 2 2", "color": "#000000", "width": 1}, ts=2000)
    write_path(doc, "p1", {"d": "M 1 1", "color": "#000000", "width": 1}, ts=1000)
    assert len(paths_map(doc)["p1"]) == 2
    [entry] = read_paths(doc)
    assert (entry.d, entry.ts) == ("M 2 2", 2000.0)


def test_a_write_is_one_transaction_with_the_given_origin():
    doc = Doc()
    write_path(doc, "p1", {"d": "M 1 1", "color": "#000000", "width": 1}, ts=1000)
    seen = []
    doc.observe(lambda event: seen.append(event.update))
    origins = []
    # pycrdt drops a subscription once it is garbage collected: keep it.
    subscription = paths_map(doc).observe_deep(lambda events, txn: origins.append(txn.origin))
    write_path(doc, "p1", {"d": "M 2 2", "color": "#000000", "width": 1}, ts=2000, origin="import")
    assert len(seen) == 1
    assert origins == ["import"]
    del subscription


def test_written_numbers_are_plain_javascript_numbers_never_bigint():
    # pycrdt writes a Python int past 2**53 as a Yjs BigInt, which pycrdt reads
    # back as an int and JavaScript as a bigint: a float comes back as a float.
    doc = Doc()
    write_path(doc, "p1", {"d": "M 1 1", "color": "#000000", "width": 7}, ts=2**53 + 1)
    remote = Doc()
    remote.apply_update(doc.get_update())
    [version] = paths_map(remote)["p1"].to_py()
    assert type(version["ts"]) is float
    assert type(version["width"]) is float


@pytest.mark.parametrize(
    ("key", "value", "ts"),
    [
        ("bad key!", {"deleted": True}, 1),
        ("p1", {"d": "hello", "color": "#000000", "width": 1}, 1),
        ("p1", {"d": "M 1 1", "color": "#000000", "width": 1, "extra": 1}, 1),
        ("p1", {"deleted": True}, -1),
        ("p1", {"deleted": True}, 10**400),
    ],
)
def test_writing_an_invalid_version_raises_and_writes_nothing(key, value, ts):
    doc = Doc()
    with pytest.raises(ValueError):
        write_path(doc, key, value, ts=ts)
    assert paths_map(doc).to_py() == {}


def test_writing_over_a_value_that_is_not_a_register_replaces_it():
    doc = Doc()
    paths_map(doc)["p1"] = "garbage"
    write_path(doc, "p1", {"deleted": True}, ts=5)
    assert paths_map(doc)["p1"].to_py() == [{"deleted": True, "ts": 5.0}]


def test_read_paths_gives_each_winner_ordered_by_ts_then_key():
    doc = Doc()
    write_path(doc, "b", {"d": "M 1 1", "color": "#000000", "width": 1}, ts=20)
    write_path(doc, "a", {"d": "M 2 2", "color": "#ff0000", "width": 2.5}, ts=20)
    write_path(doc, "c", {"d": "M 3 3", "color": "#00ff00", "width": 1}, ts=10)
    write_path(doc, "c", {"deleted": True}, ts=30)
    write_path(doc, "d", {"d": "M 4 4", "color": "#0000ff", "width": 1}, ts=5)
    assert read_paths(doc) == [
        PathEntry(key="d", ts=5.0, deleted=False, d="M 4 4", color="#0000ff", width=1.0),
        PathEntry(key="a", ts=20.0, deleted=False, d="M 2 2", color="#ff0000", width=2.5),
        PathEntry(key="b", ts=20.0, deleted=False, d="M 1 1", color="#000000", width=1.0),
        PathEntry(key="c", ts=30.0, deleted=True),
    ]


def test_read_paths_counts_only_valid_versions_of_array_registers():
    doc = Doc()
    paths = paths_map(doc)
    with doc.transaction():
        paths["not-an-array"] = "garbage"
        paths["bad key!"] = Array([stroke(9.0)])
        paths["mixed"] = Array([stroke(1.0), {"d": "hello", "ts": 99.0}, 42, stroke(2.0, width=0)])
        paths["only-invalid"] = Array([{"deleted": False, "ts": 1.0}, "x"])
        paths["empty"] = Array()
    assert read_paths(doc) == [
        PathEntry(key="mixed", ts=1.0, deleted=False, d="M 0 0 L 10 10", color="#1e1e1e", width=2.0)
    ]
