"""What makes a register key, a version and its path data valid (docs/protocol.md §3)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pycrdt import Doc

from crdt.paths import DEFAULT_MAX_PATH_DATA, invalid_reason, is_path_data, paths_map, write_path
from server.config import Settings

STROKE = {"d": "M 10 10 L 20 20", "color": "#1e1e1e", "width": 2.0, "ts": 1764100000000.0}
TOMBSTONE = {"deleted": True, "ts": 1764100000000.0}
STROKE_VALUE = {"color": "#1e1e1e", "width": 2.0}


@pytest.mark.parametrize(
    "key",
    ["a", "A-z_0-9", "V1StGXR8_Z5jdHi6B-myT", "0" * 64, "3f2b8c1e-9a7d-4e2b-8c1f-5d6e7f8a9b0c"],
)
def test_keys_of_up_to_64_url_safe_characters_are_valid(key):
    assert invalid_reason(key, STROKE) is None


@pytest.mark.parametrize(
    "key",
    ["", "0" * 65, "a b", "a/b", "a.b", "é", "abc\n", "ａ", 7, None],
)
def test_other_keys_are_invalid(key):
    assert "key" in invalid_reason(key, STROKE)


@pytest.mark.parametrize(
    "version",
    [
        STROKE,
        TOMBSTONE,
        {**STROKE, "color": "#ABCDEF"},
        {**STROKE, "color": "#1e1e1e80"},
        {**STROKE, "width": 1000},
        {**STROKE, "width": 0.001},
        {**STROKE, "width": 3},
        {**STROKE, "ts": 0},
        {**STROKE, "ts": 0.5},
        {**TOMBSTONE, "ts": 0.0},
    ],
)
def test_strokes_and_tombstones_with_good_fields_are_valid(version):
    assert invalid_reason("p1", version) is None


INVALID_VERSIONS = [
    ("not an object", ["M 1 1"], "object"),
    ("a string", "x", "object"),
    ("empty object", {}, "fields"),
    ("missing width", {k: v for k, v in STROKE.items() if k != "width"}, "fields"),
    ("missing ts", {k: v for k, v in STROKE.items() if k != "ts"}, "fields"),
    ("extra field", {**STROKE, "opacity": 1}, "fields"),
    ("stroke and tombstone mixed", {**STROKE, "deleted": True}, "fields"),
    ("tombstone with extra field", {**TOMBSTONE, "d": "M 1 1"}, "fields"),
    ("tombstone without ts", {"deleted": True}, "fields"),
    ("deleted false", {**TOMBSTONE, "deleted": False}, "deleted"),
    ("deleted 1", {**TOMBSTONE, "deleted": 1}, "deleted"),
    ("deleted string", {**TOMBSTONE, "deleted": "true"}, "deleted"),
    ("ts negative", {**STROKE, "ts": -1.0}, "ts"),
    ("ts NaN", {**STROKE, "ts": float("nan")}, "ts"),
    ("ts infinite", {**STROKE, "ts": float("inf")}, "ts"),
    ("ts too large for a double", {**STROKE, "ts": 10**400}, "ts"),
    ("ts a string", {**STROKE, "ts": "1764100000000"}, "ts"),
    ("ts a bool", {**STROKE, "ts": True}, "ts"),
    ("ts null", {**STROKE, "ts": None}, "ts"),
    ("d empty", {**STROKE, "d": ""}, "d"),
    ("d not path data", {**STROKE, "d": "hello"}, "d"),
    ("d not a string", {**STROKE, "d": 5.0}, "d"),
    ("color without #", {**STROKE, "color": "1e1e1e"}, "color"),
    ("color short form", {**STROKE, "color": "#fff"}, "color"),
    ("color with 7 digits", {**STROKE, "color": "#1e1e1e8"}, "color"),
    ("color not hex", {**STROKE, "color": "#1e1e1g"}, "color"),
    ("color by name", {**STROKE, "color": "red"}, "color"),
    ("color with a newline after it", {**STROKE, "color": "#1e1e1e\n"}, "color"),
    ("color not a string", {**STROKE, "color": 0x1E1E1E}, "color"),
    ("width zero", {**STROKE, "width": 0.0}, "width"),
    ("width negative", {**STROKE, "width": -1.0}, "width"),
    ("width over 1000", {**STROKE, "width": 1000.0001}, "width"),
    ("width NaN", {**STROKE, "width": float("nan")}, "width"),
    ("width infinite", {**STROKE, "width": float("inf")}, "width"),
    ("width a bool", {**STROKE, "width": True}, "width"),
    ("width a string", {**STROKE, "width": "2"}, "width"),
]


@pytest.mark.parametrize(
    ("version", "field"),
    [case[1:] for case in INVALID_VERSIONS],
    ids=[case[0] for case in INVALID_VERSIONS],
)
def test_invalid_versions_get_a_reason_naming_what_is_wrong(version, field):
    reason = invalid_reason("p1", version)
    assert reason is not None
    assert field in reason


VALID_PATH_DATA = [
    "M 100 100 L 300 100 L 200 300 z",
    "M600,350 l 50,-25 a25,25 -30 0,1 50,-25 l 50,-25",
    "M100,200 C100,100 250,100 250,200 S400,300 400,200",
    "M200,300 Q400,50 600,300 T1000,300",
    "M 10 10 H 90 V 90 H 10 Z",
    "m 10 10 h 80 v 80 h -80 z m 5 5 l 1 1",
    "M10-20.5.5.5L1e2,3",
    "M0,0L10,10",
    "M 0.6.5",
    "M 100-200",
    "M1..1",
    "M1.e5 2E-3 3e+2-4",
    "M+1-1",
    "M0 0 a1 1 0 00 1 1",
    "M0 0 a1 1 0 0,1 1,1",
    "M0 0 a1 1 0 011 1",
    "M0 0 a1 1 0 0 1 1 1 2 2 0 1 0 3 3",
    "M 1 1 C 1 2 3 4 5 6 7 8 9 10 11 12",
    "M 1 1 2 2 3 3",
    "M1 1zL3 3",
    "M1 1 Z Z",
    "M1 1 z m 2 2",
    "M1 ,1",
    "M1, 1",
    "  \t\r\nM 1 1\n",
    "M1 1 t2 2 s1 1 2 2 q1 1 2 2",
]


@pytest.mark.parametrize("d", VALID_PATH_DATA)
def test_svg_path_data_is_accepted(d):
    assert is_path_data(d)


INVALID_PATH_DATA = [
    ("empty", ""),
    ("white space only", "   "),
    ("not path data", "hello"),
    ("moveto without coordinates", "M"),
    ("must start with a moveto", "L 10 10"),
    ("moveto with half a pair", "M 10"),
    ("arc flag must be 0 or 1", "M600,350 a25,25 -30 2,1 50,-25"),
    ("arc flag must be 0 or 1, without a moveto", "a25,25 -30 2,1 50,-25"),
    # Numbers are read greedily: -20.5 then .5, leaving half a pair.
    ("greedy numbers leave half a pair", "M10-20.5.5L1e2,3"),
    ("arc radius must not be negative", "M 1 1 a -1 1 0 0 1 1 1"),
    ("arc with too few arguments", "M 1 1 a 1 1 0 0 1 1"),
    ("curveto with too few arguments", "M 1 1 C 1 2 3 4 5"),
    ("lineto without arguments", "M1 1 L"),
    ("lineto with an odd count", "M1 1 L 2 2 3"),
    ("horizontal lineto without arguments", "M1 1 h"),
    ("closepath takes no arguments", "M1 1 z 2 2"),
    ("trailing comma", "M1 1,"),
    ("comma before a command", "M1 1, L2 2"),
    ("comma after a command letter", "M,1 1"),
    ("double comma", "M1,,1"),
    ("exponent without digits", "M1e 2"),
    ("unknown command", "M1 1 X 2 2"),
    ("no-break space is not white space", "M1 1\u00a0L2 2"),
    ("form feed is not white space", "M1 1\fL2 2"),
    ("full-width digits", "M１ 1"),
    ("a lone dot", "M. 1"),
    ("a lone sign", "M- 1"),
]


@pytest.mark.parametrize(
    "d", [case[1] for case in INVALID_PATH_DATA], ids=[case[0] for case in INVALID_PATH_DATA]
)
def test_other_text_is_not_path_data(d):
    assert not is_path_data(d)


def test_path_data_over_the_size_limit_is_refused():
    fits = "M0 0" + " L1 1" * ((DEFAULT_MAX_PATH_DATA - 4) // 5)
    assert len(fits) <= DEFAULT_MAX_PATH_DATA
    assert is_path_data(fits)
    assert not is_path_data(fits + " L1 1" * 2)


def test_path_data_that_is_not_a_string_is_refused():
    assert not is_path_data(None)  # type: ignore[arg-type]
    assert not is_path_data(b"M 1 1")  # type: ignore[arg-type]


# Path data built from the SVG 1.1 grammar, with every separator it allows.
_numbers = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False).map(
    lambda x: repr(x).replace("e+", "e")
)
_separator = st.sampled_from([" ", ",", " , ", "\n", "\t,"])


@st.composite
def _argument_list(draw, count: int) -> str:
    out = draw(_numbers)
    for _ in range(count - 1):
        out += draw(_separator) + draw(_numbers)
    return out


@st.composite
def _arc_argument(draw) -> str:
    radii = [draw(_numbers).lstrip("-") for _ in range(2)]
    flags = [draw(st.sampled_from("01")) for _ in range(2)]
    end = draw(_argument_list(2))
    return f"{radii[0]} {radii[1]} {draw(_numbers)} {flags[0]}{flags[1]} {end}"


@st.composite
def _command(draw) -> str:
    letter = draw(st.sampled_from("MmLlTtHhVvCcSsQqAaZz"))
    if letter in "Zz":
        return letter
    if letter in "Aa":
        arguments = [draw(_arc_argument()) for _ in range(draw(st.integers(1, 3)))]
    else:
        count = {"H": 1, "V": 1, "C": 6, "S": 4, "Q": 4}.get(letter.upper(), 2)
        arguments = [draw(_argument_list(count)) for _ in range(draw(st.integers(1, 3)))]
    return letter + draw(st.sampled_from(["", " "])) + draw(_separator).join(arguments)


@st.composite
def _path_data(draw) -> str:
    first = "M" + draw(_argument_list(2))
    rest = draw(st.lists(_command(), max_size=8))
    return first + "".join(draw(st.sampled_from(["", " ", "\n"])) + c for c in rest)


@given(_path_data())
def test_path_data_written_by_the_grammar_is_accepted(d):
    assert is_path_data(d)


# -- MAX_PATH_DATA ---------------------------------------------------------------------------


def path_data_of_length(n: int) -> str:
    """Valid path data of exactly `n` characters (n >= 4): line segments, padded with spaces."""
    d = "M0 0" + " L1 1" * ((n - 4) // 5)
    return d + " " * (n - len(d))


def test_the_default_limit_is_the_settings_default_of_262144():
    assert DEFAULT_MAX_PATH_DATA == 262_144
    assert Settings.model_fields["max_path_data"].default == DEFAULT_MAX_PATH_DATA


@pytest.mark.parametrize("limit", [1000, 1001, DEFAULT_MAX_PATH_DATA])
def test_d_at_the_limit_is_valid_and_one_character_more_is_not(limit):
    at_limit, over = path_data_of_length(limit), path_data_of_length(limit + 1)
    assert (len(at_limit), len(over)) == (limit, limit + 1)
    kwargs = {} if limit == DEFAULT_MAX_PATH_DATA else {"max_path_data": limit}
    assert is_path_data(at_limit, **kwargs)
    assert not is_path_data(over, **kwargs)
    assert invalid_reason("p1", {**STROKE, "d": at_limit}, **kwargs) is None
    reason = invalid_reason("p1", {**STROKE, "d": over}, **kwargs)
    assert reason == f"d must be at most {limit} characters, got {limit + 1}"


def test_the_limit_is_a_parameter_not_a_constant():
    d = path_data_of_length(5000)
    assert invalid_reason("p1", {**STROKE, "d": d}) is None
    assert invalid_reason("p1", {**STROKE, "d": d}, max_path_data=4999) is not None
    assert invalid_reason("p1", {**STROKE, "d": d}, max_path_data=5000) is None
    # A tombstone has no d: no limit applies to it.
    assert invalid_reason("p1", TOMBSTONE, max_path_data=1) is None


def test_write_path_refuses_a_d_over_the_limit_and_writes_nothing():
    doc = Doc()
    with pytest.raises(ValueError, match="at most 1000 characters"):
        write_path(
            doc, "p1", {**STROKE_VALUE, "d": path_data_of_length(1001)}, ts=1.0, max_path_data=1000
        )
    assert paths_map(doc).to_py() == {}
    write_path(
        doc, "p1", {**STROKE_VALUE, "d": path_data_of_length(1000)}, ts=1.0, max_path_data=1000
    )
    assert len(paths_map(doc)["p1"]) == 1
