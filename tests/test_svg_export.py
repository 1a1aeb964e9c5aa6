"""Exporting a board as SVG: structure, escaping, order, bounds, and lossless round trips."""

from __future__ import annotations

import random
from pathlib import Path
from xml.etree.ElementTree import Element

import pytest
from defusedxml.ElementTree import fromstring

from crdt.paths import path_entry as PathEntry
from crdt.svg import export_svg, import_svg
from crdt.svg.pathdata import path_bounds

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "svg"
NS = "{http://www.w3.org/2000/svg}"
WB = "{urn:x-whiteboard:svg-export:1}"


def entry(key: str, ts: float, d: str = "M 0 0 L 10 10", **kw: object) -> PathEntry:
    fields = {"deleted": False, "d": d, "color": "#1e1e1e", "width": 2.0, **kw}
    return PathEntry(key=key, ts=ts, **fields)  # type: ignore[arg-type]


def parsed(svg: str) -> Element:
    return fromstring(svg.encode())


def drawn(svg: str) -> list[dict[str, str]]:
    return [dict(p.attrib) for p in parsed(svg).iter(f"{NS}path")]


def viewbox(svg: str) -> tuple[float, ...]:
    return tuple(float(v) for v in parsed(svg).get("viewBox", "").split())


def reimport(svg: str) -> list[dict]:
    return import_svg(svg, max_bytes=50 << 20).paths


def test_export_is_an_svg_11_document_with_one_stroked_path_per_live_entry() -> None:
    svg = export_svg([entry("a", 1, "M 1 2 L 3 4", color="#ff0000", width=3)], title="Board")
    assert svg.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = parsed(svg)
    assert root.tag == f"{NS}svg" and root.get("version") == "1.1"
    assert len(viewbox(svg)) == 4
    assert root.find(f"{NS}title").text == "Board"  # type: ignore[union-attr]
    assert drawn(svg) == [
        {
            "d": "M 1 2 L 3 4",
            "fill": "none",
            "stroke": "#ff0000",
            "stroke-width": "3",
            "stroke-linecap": "round",
            "stroke-linejoin": "round",
        }
    ]


def test_every_value_is_escaped_so_no_entry_can_inject_markup() -> None:
    evil = '"/><script>alert(1)</script><path d="'
    svg = export_svg(
        [entry("a", 1, d='M 0 0 L 1 1" onload="alert(2)', color=evil, width=1)],
        title="</title><script>alert(3)</script>",
    )
    assert "<script" not in svg
    root = parsed(svg)
    assert {el.tag for el in root.iter()} == {f"{NS}svg", f"{NS}title", f"{NS}metadata",
                                               f"{NS}path", f"{WB}paths"}  # fmt: skip
    (path,) = root.iter(f"{NS}path")
    assert path.get("stroke") == evil
    assert path.get("d") == 'M 0 0 L 1 1" onload="alert(2)'
    assert path.get("onload") is None
    assert root.find(f"{NS}title").text == "</title><script>alert(3)</script>"  # type: ignore[union-attr]


def test_characters_xml_cannot_carry_are_dropped_rather_than_breaking_the_document() -> None:
    svg = export_svg([entry("a", 1, color="#00ff00\x00")], title="a\x01b")
    assert parsed(svg).find(f"{NS}title").text == "ab"  # type: ignore[union-attr]


def test_tombstones_and_incomplete_entries_are_not_drawn() -> None:
    svg = export_svg(
        [
            entry("live", 1),
            PathEntry(key="gone", ts=2, deleted=True),
            entry("erased", 3, deleted=True),
            entry("nowidth", 4, width=None),
        ]
    )
    assert len(drawn(svg)) == 1
    assert len(reimport(svg)) == 1


def test_paths_are_ordered_by_ts_then_key() -> None:
    svg = export_svg(
        [
            entry("b", 5, "M 5 0 L 5 1"),
            entry("a", 5, "M 4 0 L 4 1"),
            entry("z", 1, "M 1 0 L 1 1"),
            entry("c", 3, "M 3 0 L 3 1"),
        ]
    )
    assert [p["d"] for p in drawn(svg)] == [
        "M 1 0 L 1 1",
        "M 3 0 L 3 1",
        "M 4 0 L 4 1",
        "M 5 0 L 5 1",
    ]  # noqa: E501


def test_an_empty_board_is_a_valid_svg_with_a_default_viewbox() -> None:
    svg = export_svg([])
    assert parsed(svg).tag == f"{NS}svg"
    assert viewbox(svg) == (0, 0, 800, 600)
    assert drawn(svg) == []
    assert import_svg(svg, max_bytes=10_000).paths == []


def test_viewbox_fits_every_stroke_with_half_its_width_and_a_margin() -> None:
    svg = export_svg(
        [entry("a", 1, "M 10 20 L 110 60", width=20), entry("b", 2, "M 50 50 L 60 70")]
    )
    x, y, w, h = viewbox(svg)
    assert x <= 0 and y <= 10 and x + w >= 120 and y + h >= 71
    assert x >= -40 and y >= -20 and x + w <= 160 and y + h <= 110  # a margin, not a page
    assert parsed(svg).get("width") == str(int(w))


def test_bounds_include_relative_commands_and_curve_control_points() -> None:
    assert path_bounds("m 10 10 c 0 -100 10 -100 10 0 l 5 5 h -30 v 20 z") == (-5, -90, 25, 35)
    assert path_bounds("M 0 0 Q 5 -10 10 0 T 20 0") == (0, -10, 20, 10)
    assert path_bounds("M 0 0 C 0 5 5 5 5 0 S 10 -5 10 0") == (0, -5, 10, 5)
    assert path_bounds("M 0 0 A 10 10 0 0 1 20 0") == pytest.approx((0, -10, 20, 0))
    assert path_bounds("M 0,0 a10,10 0 01 20,0") == pytest.approx((0, -10, 20, 0))
    assert path_bounds("M1.5.5-2-3") == (-2, -3, 1.5, 0.5)
    assert path_bounds("") is None
    assert path_bounds("M 0 0 L 1e999 0") is None


def test_bounds_contain_the_exact_geometry_of_random_paths() -> None:
    rnd = random.Random(2024)
    arity = {"M": 2, "L": 2, "H": 1, "V": 1, "C": 6, "S": 4, "Q": 4, "T": 2, "Z": 0}
    for _ in range(300):
        parts = [f"M {rnd.uniform(-50, 50):.2f} {rnd.uniform(-50, 50):.2f}"]
        for _ in range(rnd.randrange(1, 10)):
            cmd = rnd.choice("MmLlHhVvCcSsQqTtZzAa")
            if cmd in "Aa":
                radii = f"{rnd.uniform(1, 40):.1f} {rnd.uniform(1, 40):.1f}"
                args = f"{radii} {rnd.randrange(-90, 90)} {rnd.randrange(2)} {rnd.randrange(2)} 9 3"
            else:
                args = " ".join(f"{rnd.uniform(-50, 50):.2f}" for _ in range(arity[cmd.upper()]))
            parts.append(f"{cmd} {args}")
        d = " ".join(parts)
        box = path_bounds(d)
        # the import writes the same geometry with explicit control points, read by svgelements
        exact = import_svg(
            f'<svg xmlns="http://www.w3.org/2000/svg"><path d="{d}" stroke="#000"/></svg>',
            max_bytes=100_000,
        ).paths
        if not exact:
            continue  # movetos only: nothing drawn
        true = path_bounds(exact[0]["d"])
        assert box is not None and true is not None, d
        # 3-decimal arc radii move a very flat half ellipse by up to a few hundredths
        assert box[0] <= true[0] + 0.05 and box[1] <= true[1] + 0.05, d
        assert box[2] >= true[2] - 0.05 and box[3] >= true[3] - 0.05, d


def test_eight_digit_colours_become_stroke_opacity() -> None:
    svg = export_svg(
        [entry("a", 1, color="#ff000080"), entry("b", 2, color="#00ff00ff"), entry("c", 3)]
    )
    paths = drawn(svg)
    assert (paths[0]["stroke"], paths[0]["stroke-opacity"]) == ("#ff0000", "0.502")
    assert paths[1]["stroke"] == "#00ff00" and "stroke-opacity" not in paths[1]
    assert paths[2]["stroke"] == "#1e1e1e" and "stroke-opacity" not in paths[2]


def test_our_own_export_reimports_the_exact_versions() -> None:
    entries = [
        entry("a", 1, "m 10 10 l 5 5 h 3 c 1 1 2 2 3 3 s 1 1 2 2 z", color="#AbCdEf", width=2.1234),
        entry("b", 2, "M0,0 a10,10 0 01 20,0", color="#12345678", width=0.0001),
        entry("c", 3, "M 1 1\nL 2 2\tL 3 3", color="#00000001", width=1000),
    ]  # fmt: skip
    assert reimport(export_svg(entries)) == [
        {"d": e.d, "color": e.color, "width": e.width} for e in entries
    ]  # noqa: E501


def test_metadata_is_ignored_once_another_tool_changed_the_drawing() -> None:
    svg = export_svg([entry("a", 1, "m 0 0 l 10 0"), entry("b", 2, "m 0 5 l 10 0")])
    added = svg.replace("</svg>", '<path d="M 0 9 L 9 9" stroke="red"/></svg>')
    assert [p["d"] for p in reimport(added)] == ["M 0 0 L 10 0", "M 0 5 L 10 5", "M 0 9 L 9 9"]
    moved = svg.replace('<path d="m 0 0 l 10 0"', '<path transform="translate(1)" d="m 0 0 l 10 0"')
    assert [p["d"] for p in reimport(moved)] == ["M 1 0 L 11 0", "M 0 5 L 10 5"]


def test_other_tools_see_a_plain_svg_without_the_metadata() -> None:
    svg = export_svg([entry("a", 1, "m 0 0 l 10 0", color="#ff000080", width=4)])
    root = parsed(svg)
    for meta in root.findall(f"{NS}metadata"):
        root.remove(meta)
    from xml.etree.ElementTree import tostring

    plain = tostring(root, encoding="unicode")
    assert reimport(plain) == [{"d": "M 0 0 L 10 0", "color": "#ff000080", "width": 4}]


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.svg")))
def test_every_fixture_round_trips_through_export_unchanged(name: str) -> None:
    first = import_svg((FIXTURES / name).read_bytes(), max_bytes=5 << 20).paths
    assert first
    entries = [PathEntry(key=f"k{i:05d}", ts=1.0, deleted=False, **p) for i, p in enumerate(first)]
    svg = export_svg(entries, title=name)
    assert reimport(svg) == first
    # and without our metadata, from the drawing alone
    assert reimport(svg.split("<metadata>")[0] + svg.split("</metadata>")[1]) == first


def test_fixtures_are_found() -> None:
    assert len(list(FIXTURES.glob("*.svg"))) == 12, f"SVG fixtures missing from {FIXTURES}"


def test_a_recoloured_stroke_is_imported_with_its_new_colour() -> None:
    svg = export_svg([entry("a", 1, "m 0 0 l 10 0", color="#ff0000")])
    recoloured = svg.replace('stroke="#ff0000"', 'stroke="#0000ff"')
    assert reimport(recoloured) == [{"d": "M 0 0 L 10 0", "color": "#0000ff", "width": 2}]


def test_an_export_resaved_with_ids_added_still_gives_the_exact_versions() -> None:
    entries = [entry("a", 1, "m 0 0 l 10 0", color="#FF000080", width=2.5)]
    resaved = export_svg(entries).replace("<path ", '<path id="path1" ')
    assert reimport(resaved) == [{"d": "m 0 0 l 10 0", "color": "#FF000080", "width": 2.5}]
