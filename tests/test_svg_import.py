"""Importing SVG drawings as strokes: shapes, transforms, paint, skipped elements, fixtures."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from defusedxml.ElementTree import parse as defused_parse

from crdt.paths import DEFAULT_MAX_PATH_DATA, invalid_reason
from crdt.paths import path_entry as PathEntry
from crdt.svg import ImportResult, export_svg, import_svg
from crdt.svg.geometry import split_subpaths
from crdt.svg.pathdata import path_bounds

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "svg"
SVG_NS = "http://www.w3.org/2000/svg"

# Expected counts from tests/fixtures/svg/MANIFEST.md ("Expected drawable shapes").
FIXTURE_COUNTS = {
    "excalidraw-random.svg": 15,
    "excalidraw-gateway-architecture.svg": 89,
    "tldraw-cli-test-sketch.svg": 5,
    "drawio-logflare-architecture.svg": 114,
    # The manifest says 1010, but 712 of those <path> elements hold nothing but
    # movetos ("M 624.2 109.8 M 657.2 109.8 ..."): they paint nothing in any
    # renderer, and the manifest's walk never looked at path data (it says
    # "zero-size geometry (none occurs in these files)"). We skip them:
    # test_autoware_paths_we_skip_are_exactly_the_moveto_only_ones checks it.
    "drawio-autoware-occlusion-with-tl.svg": 1010 - 712,
    "inkscape-tango-face.svg": 81,
    "lucide-vault.svg": 10,
    "feather-layers.svg": 3,
    "tabler-air-balloon.svg": 3,
    "w3c-arcs02.svg": 15,
    "w3c-rect02.svg": 3,
    "w3c-cubic02.svg": 48,
}


def fixture(name: str) -> bytes:
    assert FIXTURES.is_dir(), f"SVG fixtures not found at {FIXTURES}"
    return (FIXTURES / name).read_bytes()


def doc(body: str, root_attrs: str = 'viewBox="0 0 100 100"') -> str:
    return (
        f'<svg xmlns="{SVG_NS}" xmlns:xlink="http://www.w3.org/1999/xlink" {root_attrs}>'
        f"{body}</svg>"
    )


def imp(body: str, root_attrs: str = 'viewBox="0 0 100 100"') -> ImportResult:
    return import_svg(doc(body, root_attrs), max_bytes=1 << 20)


def one(body: str, root_attrs: str = 'viewBox="0 0 100 100"') -> dict:
    result = imp(body, root_attrs)
    assert len(result.paths) == 1, result
    return result.paths[0]


def stroked(shape: str) -> str:
    return shape.replace("/>", ' fill="none" stroke="#000000"/>', 1)


# -- fixtures ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FIXTURE_COUNTS))
def test_every_fixture_imports_the_expected_number_of_strokes(name: str) -> None:
    result = import_svg(fixture(name), max_bytes=5 << 20)
    assert len(result.paths) == FIXTURE_COUNTS[name]


def test_autoware_paths_we_skip_are_exactly_the_moveto_only_ones() -> None:
    tree = defused_parse(FIXTURES / "drawio-autoware-occlusion-with-tl.svg")
    moveto_only = [
        p
        for p in tree.iter(f"{{{SVG_NS}}}path")
        if re.fullmatch(r"(\s*M[\s\d.,-]+)+", p.get("d", ""))
    ]
    assert len(moveto_only) == 712


@pytest.mark.parametrize("name", sorted(FIXTURE_COUNTS))
def test_every_imported_entry_is_a_valid_path_version(name: str) -> None:
    for entry in import_svg(fixture(name), max_bytes=5 << 20).paths:
        reason = invalid_reason("imported-1", {**entry, "ts": 1.0})
        assert reason is None, (reason, entry)


@pytest.mark.parametrize("name", sorted(FIXTURE_COUNTS))
def test_imported_path_data_is_absolute_and_compact(name: str) -> None:
    for entry in import_svg(fixture(name), max_bytes=5 << 20).paths:
        assert set(entry) == {"d", "color", "width"}
        assert re.fullmatch(r"M[MLQCAZ0-9 .-]*", entry["d"]), entry["d"]
        numbers = re.findall(r"-?[0-9.]+", entry["d"])
        assert all(n != "-0" and len(n.partition(".")[2]) <= 3 for n in numbers), entry["d"]
        assert re.fullmatch(r"#[0-9a-f]{6}([0-9a-f]{2})?", entry["color"])
        assert 0 < entry["width"] <= 1000


def test_excalidraw_mask_rects_and_texts_are_skipped_not_imported() -> None:
    result = import_svg(fixture("excalidraw-gateway-architecture.svg"), max_bytes=5 << 20)
    # 23 masks (holding the 42 rects), 41 texts and one <style> in <defs>
    assert result.skipped_elements == 23 + 41 + 1


def test_inkscape_hidden_layer_and_clip_paths_are_skipped() -> None:
    result = import_svg(fixture("inkscape-tango-face.svg"), max_bytes=5 << 20)
    assert len(result.paths) == 81
    assert result.skipped_elements > 0


# -- shapes -----------------------------------------------------------------------------------


def test_relative_path_commands_become_absolute() -> None:
    assert one(stroked('<path d="m10 10 l5 0 h5 v5 z"/>'))["d"] == (
        "M 10 10 L 15 10 L 20 10 L 20 15 Z"
    )


def test_smooth_curves_get_explicit_control_points() -> None:
    d = one(stroked('<path d="M0 0 C0 10 10 10 10 0 S20 -10 20 0 Q25 5 30 0 T40 0"/>'))["d"]
    assert d == "M 0 0 C 0 10 10 10 10 0 C 10 -10 20 -10 20 0 Q 25 5 30 0 Q 35 -5 40 0"


def test_path_data_is_drawn_up_to_its_first_error() -> None:
    assert one(stroked('<path d="M0 0 L10 0 L20 x 30"/>'))["d"] == "M 0 0 L 10 0"


def test_numbers_are_rounded_to_three_decimals_without_negative_zero() -> None:
    assert one(stroked('<path d="M0.00012 -0.0001 L1.23456 2"/>'))["d"] == "M 0 0 L 1.235 2"


def test_line_becomes_a_single_segment() -> None:
    assert one(stroked('<line x1="1" y1="2" x2="3" y2="4"/>'))["d"] == "M 1 2 L 3 4"


def test_polyline_stays_open_and_polygon_is_closed() -> None:
    assert one(stroked('<polyline points="0,0 10,0 10,10"/>'))["d"] == "M 0 0 L 10 0 L 10 10"
    assert one(stroked('<polygon points="0 0 10 0 10 10"/>'))["d"] == "M 0 0 L 10 0 L 10 10 Z"


def test_rect_becomes_a_closed_outline() -> None:
    d = one(stroked('<rect x="1" y="2" width="10" height="5"/>'))["d"]
    assert d == "M 1 2 L 11 2 L 11 7 L 1 7 Z"


def test_rounded_rect_corners_are_arcs_and_rx_alone_sets_ry() -> None:
    d = one(stroked('<rect x="0" y="0" width="20" height="10" rx="2"/>'))["d"]
    assert d.count("A 2 2 0 0 1") == 4
    assert path_bounds(d) == (0, 0, 20, 10)


def test_rounded_rect_radii_are_clamped_to_half_the_sides() -> None:
    d = one(stroked('<rect width="20" height="10" rx="50" ry="50"/>'))["d"]
    assert "A 10 5 0 0 1" in d


def test_circle_and_ellipse_become_arcs_with_their_radii() -> None:
    circle = one(stroked('<circle cx="50" cy="40" r="10"/>'))["d"]
    assert circle.startswith("M 60 40 A 10 10 0 0 1")
    assert path_bounds(circle) == pytest.approx((40, 30, 60, 50))
    ellipse = one(stroked('<ellipse cx="50" cy="40" rx="20" ry="5"/>'))["d"]
    assert ellipse.startswith("M 70 40 A 20 5 0 0 1")
    assert path_bounds(ellipse) == pytest.approx((30, 35, 70, 45))


def test_shapes_of_zero_size_are_skipped_and_counted() -> None:
    result = imp(
        stroked('<circle r="0"/>') + stroked('<rect width="0" height="5"/>')
        + stroked('<path d=""/>') + stroked('<path d="M 1 1 M 2 2"/>')
    )  # fmt: skip
    assert result.paths == []
    assert result.skipped_elements == 4


# -- transforms -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("transform", "expected"),
    [
        ("translate(5,7)", "M 5 7 L 15 7"),
        ("translate(5)", "M 5 0 L 15 0"),
        ("scale(2,3)", "M 0 0 L 20 0"),
        ("rotate(90)", "M 0 0 L 0 10"),
        ("rotate(180, 5, 0)", "M 10 0 L 0 0"),
        ("skewY(45)", "M 0 0 L 10 10"),
        ("matrix(0 1 -1 0 3 4)", "M 3 4 L 3 14"),
        ("translate(100 0) scale(2)", "M 100 0 L 120 0"),
    ],
)
def test_element_transform_is_applied(transform: str, expected: str) -> None:
    body = f'<line x1="0" y1="0" x2="10" y2="0" stroke="#000" transform="{transform}"/>'
    assert one(body)["d"] == expected


def test_skew_x_shifts_by_the_height() -> None:
    body = '<line x1="0" y1="10" x2="10" y2="10" stroke="#000" transform="skewX(45)"/>'
    assert one(body)["d"] == "M 10 10 L 20 10"


def test_nested_group_transforms_compose_innermost_first() -> None:
    body = (
        '<g transform="translate(100,0)"><g transform="scale(2)">'
        '<line x1="1" y1="0" x2="2" y2="0" stroke="#000" transform="translate(0,5)"/>'
        "</g></g>"
    )
    assert one(body)["d"] == "M 102 10 L 104 10"


def test_arcs_stay_exact_under_skew() -> None:
    d = one(stroked('<circle r="10" transform="skewX(30)"/>'))["d"]
    assert "A" in d and "C" not in d
    x0, y0, x1, y1 = path_bounds(d)  # type: ignore[misc]
    # a skewed circle spans ±sqrt(1 + tan(30°)²)·r horizontally and ±r vertically
    assert (x1 - x0) / 2 == pytest.approx(10 * math.sqrt(1 + math.tan(math.pi / 6) ** 2), abs=1e-2)
    assert (y0, y1) == pytest.approx((-10, 10), abs=1e-2)


def test_stroke_width_scales_with_the_square_root_of_the_determinant() -> None:
    body = '<line x2="10" stroke="#000" stroke-width="2" transform="scale(2,3)"/>'
    assert one(body)["width"] == round(2 * math.sqrt(6), 3)


def test_non_scaling_stroke_keeps_its_width() -> None:
    body = '<line x2="10" stroke="#000" stroke-width="2" transform="scale(3)" vector-effect="non-scaling-stroke"/>'  # noqa: E501
    assert one(body)["width"] == 2


def test_root_viewbox_is_the_output_coordinate_system() -> None:
    # width/height only choose a display size: coordinates and widths stay in viewBox units
    body = '<line x1="110" y1="120" x2="140" y2="120" stroke="#000" stroke-width="3"/>'
    entry = one(body, 'viewBox="100 100 50 50" width="500px" height="1000px"')
    assert entry == {"d": "M 110 120 L 140 120", "color": "#000000", "width": 3}


def test_nested_svg_viewport_maps_its_viewbox() -> None:
    body = (
        '<svg x="10" y="20" width="100" height="100" viewBox="0 0 10 10">'
        '<line x1="1" y1="1" x2="2" y2="1" stroke="#000"/></svg>'
    )
    entry = one(body)
    assert entry["d"] == "M 20 30 L 30 30"
    assert entry["width"] == 10


def test_lengths_with_units_and_percentages_are_resolved() -> None:
    body = '<line x1="1in" y1="50%" x2="10mm" y2="50%" stroke="#000" stroke-width="1pt"/>'
    entry = one(body, 'viewBox="0 0 200 100"')
    assert entry["d"] == "M 96 50 L 37.795 50"
    assert entry["width"] == 1.333


# -- paint ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stroke", "expected"),
    [
        ("red", "#ff0000"),
        ("SteelBlue", "#4682b4"),
        ("#abc", "#aabbcc"),
        ("#ABCDEF", "#abcdef"),
        ("#11223344", "#11223344"),
        ("#1234", "#11223344"),
        ("rgb(255, 128, 0)", "#ff8000"),
        ("rgb(100%, 0%, 50%)", "#ff0080"),
        ("rgba(0, 0, 255, 0.5)", "#0000ff80"),
        ("hsl(120, 100%, 50%)", "#00ff00"),
    ],
)
def test_colour_syntaxes_become_hex(stroke: str, expected: str) -> None:
    assert one(f'<line x2="10" stroke="{stroke}"/>')["color"] == expected


def test_style_attribute_beats_presentation_attribute() -> None:
    assert one('<line x2="9" stroke="red" style="stroke: blue; stroke-width: 4"/>') == {
        "d": "M 0 0 L 9 0",
        "color": "#0000ff",
        "width": 4,
    }


def test_stylesheet_rules_cascade_by_specificity_under_the_style_attribute() -> None:
    body = (
        "<style>line { stroke: red } .a { stroke: lime; stroke-width: 3 }"
        " #x { stroke: blue } @media print { .a { stroke: black } }</style>"
        '<line class="a" x2="1" stroke="yellow"/>'
        '<line class="a" id="x" x2="2"/>'
        '<line class="a" x2="3" style="stroke: #123456"/>'
        '<line x2="4"/>'
    )
    colors = [(p["color"], p["width"]) for p in imp(body).paths]
    assert colors == [("#00ff00", 3), ("#0000ff", 3), ("#123456", 3), ("#ff0000", 1)]


def test_paint_is_inherited_from_groups() -> None:
    body = '<g stroke="blue" stroke-width="5" fill="none"><g><line x2="1"/></g></g>'
    assert one(body) == {"d": "M 0 0 L 1 0", "color": "#0000ff", "width": 5}


def test_inherit_keyword_and_invalid_values_fall_back_to_the_parent() -> None:
    body = '<g stroke="green"><line x2="1" stroke="inherit"/><line x2="2" stroke="nonsense"/></g>'
    assert [p["color"] for p in imp(body).paths] == ["#008000", "#008000"]


def test_current_color_uses_the_inherited_color_property() -> None:
    body = (
        '<g color="purple" stroke="currentColor"><line x2="1"/>'
        '<line x2="2" color="#0f0"/></g><line x2="3" stroke="currentColor"/>'
    )
    assert [p["color"] for p in imp(body).paths] == ["#800080", "#00ff00", "#000000"]


def test_opacities_multiply_into_the_alpha_channel() -> None:
    body = (
        '<line x2="1" stroke="#000" stroke-opacity="0.5"/>'
        '<g opacity="0.5"><line x2="2" stroke="#000" stroke-opacity="0.5"/></g>'
        '<line x2="3" stroke="rgba(0,0,0,0.5)" opacity="50%"/>'
    )
    assert [p["color"] for p in imp(body).paths] == ["#00000080", "#00000040", "#00000040"]


def test_fully_transparent_shapes_are_skipped() -> None:
    body = (
        '<line x2="1" stroke="#000" opacity="0"/>'
        '<line x2="2" stroke="transparent"/>'
        '<g style="opacity:0"><line x2="3" stroke="#000"/></g>'
    )
    result = imp(body)
    assert result.paths == []
    assert result.skipped_elements == 3


def test_fill_only_shape_becomes_its_outline_in_the_fill_colour() -> None:
    entry = one('<rect width="10" height="10" fill="#ff0000" fill-opacity="0.5"/>')
    assert entry == {"d": "M 0 0 L 10 0 L 10 10 L 0 10 Z", "color": "#ff000080", "width": 1}


def test_shape_without_any_paint_attribute_is_filled_black_by_default() -> None:
    assert one('<path d="M0 0 L5 5 L0 5 Z"/>')["color"] == "#000000"


def test_stroke_wins_over_fill_and_zero_width_stroke_falls_back_to_fill() -> None:
    body = (
        '<rect width="5" height="5" fill="red" stroke="blue" stroke-width="2"/>'
        '<rect width="5" height="5" fill="red" stroke="blue" stroke-width="0"/>'
    )
    assert [(p["color"], p["width"]) for p in imp(body).paths] == [
        ("#0000ff", 2),
        ("#ff0000", 1),
    ]


def test_shape_with_neither_stroke_nor_fill_is_skipped_and_counted() -> None:
    result = imp('<path d="M0 0 L5 5" fill="none" stroke="none"/>')
    assert result == ImportResult(paths=[], skipped_elements=1)


def test_gradient_paint_becomes_the_mean_of_its_stops() -> None:
    body = (
        '<defs><linearGradient id="base"><stop offset="0" stop-color="red"/>'
        '<stop offset="1" style="stop-color:blue"/></linearGradient>'
        '<linearGradient id="g" xlink:href="#base" x2="1"/></defs>'
        '<line x2="1" stroke="url(#g)"/>'
        '<line x2="2" stroke="url(#missing) #00ff00"/>'
        '<line x2="3" stroke="url(#missing)"/>'
    )
    result = imp(body)
    assert [p["color"] for p in result.paths] == ["#800080", "#00ff00"]
    assert result.skipped_elements == 2 + 1  # two gradients, one unpainted line


def test_hidden_and_undisplayed_elements_are_skipped() -> None:
    body = (
        '<g display="none"><line x2="1" stroke="#000"/><line x2="2" stroke="#000"/></g>'
        '<g visibility="hidden"><line x2="3" stroke="#000"/>'
        '<line x2="4" stroke="#000" visibility="visible"/></g>'
    )
    result = imp(body)
    assert [p["d"] for p in result.paths] == ["M 0 0 L 4 0"]
    assert result.skipped_elements == 2  # the display:none group once, the hidden line


# -- skipped elements and <use> ---------------------------------------------------------------


def test_non_drawable_elements_are_skipped_and_each_counted_once() -> None:
    body = (
        '<text x="1" y="1" stroke="#000">hi<tspan>there</tspan></text>'
        '<image href="data:image/png;base64,AAAA" width="5" height="5"/>'
        '<linearGradient id="lg"/><radialGradient id="rg"/>'
        '<clipPath id="c"><rect width="5" height="5"/></clipPath>'
        '<mask id="m"><rect width="5" height="5" fill="white"/></mask>'
        '<marker id="mk"><path d="M0 0 L1 1" stroke="#000"/></marker>'
        '<pattern id="p"><rect width="1" height="1"/></pattern>'
        '<symbol id="unused"><rect width="1" height="1"/></symbol>'
        "<style>.x{}</style><script>alert(1)</script>"
        '<foreignObject><div xmlns="http://www.w3.org/1999/xhtml">x</div></foreignObject>'
        '<defs><rect id="r" width="1" height="1"/><path id="p2" d="M0 0 L1 1"/></defs>'
        '<inkscape:thing xmlns:inkscape="urn:x-inkscape"/>'
        "<title>t</title><desc>d</desc><metadata>m</metadata>"
    )
    result = imp(body)
    assert result.paths == []
    assert result.skipped_elements == 15


def test_use_is_expanded_with_its_position_and_transform() -> None:
    body = (
        '<defs><line id="l" x2="10" stroke="#000"/></defs>'
        '<use href="#l" x="5" y="1"/>'
        '<use xlink:href="#l" x="5" transform="scale(2)"/>'
    )
    result = imp(body)
    assert [p["d"] for p in result.paths] == ["M 5 1 L 15 1", "M 10 0 L 30 0"]
    assert result.skipped_elements == 0  # the used <defs> entry is not "skipped"


def test_use_content_inherits_paint_from_the_use_element() -> None:
    body = (
        '<defs><g id="pair" fill="none"><line x2="1"/><line x2="2" stroke="red"/></g></defs>'
        '<use href="#pair" stroke="blue" stroke-width="3"/>'
    )
    assert [(p["color"], p["width"]) for p in imp(body).paths] == [
        ("#0000ff", 3),
        ("#ff0000", 3),
    ]


def test_use_of_a_shape_drawn_elsewhere_draws_it_again() -> None:
    body = '<line id="l" x2="10" stroke="#000"/><use href="#l" y="5"/>'
    assert [p["d"] for p in imp(body).paths] == ["M 0 0 L 10 0", "M 0 5 L 10 5"]


def test_use_of_a_symbol_maps_its_viewbox_to_the_use_size() -> None:
    body = (
        '<symbol id="s" viewBox="0 0 10 10"><line x2="10" stroke="#000"/></symbol>'
        '<use href="#s" x="1" y="2" width="20" height="20"/>'
    )
    result = imp(body)
    assert result.paths == [{"d": "M 1 2 L 21 2", "color": "#000000", "width": 2}]
    assert result.skipped_elements == 0


def test_use_of_a_missing_or_external_target_is_skipped() -> None:
    result = imp('<use href="#nope"/><use href="other.svg#x"/>')
    assert result == ImportResult(paths=[], skipped_elements=2)


def test_self_referencing_use_is_skipped_without_endless_recursion() -> None:
    body = '<g id="a"><line x2="1" stroke="#000"/><use href="#a" x="5"/></g><use id="u" href="#u"/>'
    result = imp(body)
    assert [p["d"] for p in result.paths] == ["M 0 0 L 1 0"]
    assert result.skipped_elements == 2


def test_svg_without_namespace_is_read_as_svg() -> None:
    result = import_svg('<svg><line x2="5" stroke="red"/></svg>', max_bytes=1000)
    assert result.paths == [{"d": "M 0 0 L 5 0", "color": "#ff0000", "width": 1}]


def test_a_mirroring_transform_flips_the_arc_sweep() -> None:
    # the arc bulges up (y < 0) on screen; mirrored in y it must bulge down
    d = one(stroked('<path d="M 0 0 A 10 10 0 0 1 20 0" transform="scale(1,-1)"/>'))["d"]
    assert d == "M 0 0 A 10 10 0 0 0 20 0"
    assert path_bounds(d) == pytest.approx((0, 0, 20, 10))


def test_ellipse_axes_are_recomputed_under_rotation_and_uneven_scale() -> None:
    d = one(stroked('<ellipse rx="10" ry="5" transform="scale(2,1) rotate(90)"/>'))["d"]
    # rotated a quarter turn it is 5 wide and 10 high, then stretched to 10 wide
    assert path_bounds(d) == pytest.approx((-10, -10, 10, 10), abs=1e-3)


# -- path data longer than MAX_PATH_DATA --------------------------------------------------------

SPLIT_100 = "split: path data longer than 100 characters"
SKIPPED_100 = "skipped: path data longer than 100 characters, even for a single subpath"


def squares(n: int) -> str:
    """Relative path data of `n` closed squares, each subpath opened by a relative moveto."""
    return " ".join(f"m {i % 7 + 3} 2 l 5 0 l 0 5 z" for i in range(n))


def test_a_path_longer_than_max_path_data_is_split_into_pieces_that_draw_the_same() -> None:
    svg = doc(stroked(f'<path d="{squares(40)}" stroke-width="3"/>'))
    [whole] = import_svg(svg, max_bytes=1 << 20).paths
    assert len(whole["d"]) > 100
    result = import_svg(svg, max_bytes=1 << 20, max_path_data=100)
    pieces = [p["d"] for p in result.paths]
    assert len(pieces) > 1
    for piece in pieces:
        assert len(piece) <= 100 and piece.startswith("M "), piece
        # Each piece opens with an absolute moveto: it draws alone what it drew in the whole.
        assert "m" not in piece
    assert " ".join(pieces) == whole["d"]
    assert all({**p, "d": ""} == {**whole, "d": ""} for p in result.paths)
    assert all(
        invalid_reason("imported-1", {**p, "ts": 1.0}, max_path_data=100) is None
        for p in result.paths
    )
    assert result.skipped_elements == 1
    assert result.skipped_reasons == {SPLIT_100: 1}


def test_a_path_exactly_at_max_path_data_is_kept_whole() -> None:
    svg = doc(stroked(f'<path d="{squares(40)}"/>'))
    [whole] = import_svg(svg, max_bytes=1 << 20).paths
    limit = len(whole["d"])
    at_limit = import_svg(svg, max_bytes=1 << 20, max_path_data=limit)
    assert at_limit == ImportResult(paths=[whole], skipped_elements=0, skipped_reasons={})
    one_less = import_svg(svg, max_bytes=1 << 20, max_path_data=limit - 1)
    assert len(one_less.paths) == 2
    assert one_less.skipped_reasons == {f"split: path data longer than {limit - 1} characters": 1}


def test_lone_movetos_are_left_out_of_the_pieces() -> None:
    svg = doc(stroked(f'<path d="M 1 1 M 2 2 {squares(40)} M 50 50"/>'))
    [whole] = import_svg(svg, max_bytes=1 << 20).paths
    assert whole["d"].startswith("M 1 1 M 2 2 M ")
    pieces = [p["d"] for p in import_svg(svg, max_bytes=1 << 20, max_path_data=100).paths]
    assert " ".join(pieces) == whole["d"].removeprefix("M 1 1 M 2 2 ").removesuffix(" M 50 50")


def test_a_subpath_longer_than_max_path_data_skips_its_shape_and_says_why() -> None:
    zigzag = " ".join(f"{i} {i % 2 * 10}" for i in range(30))
    body = (
        stroked(f'<polyline points="{zigzag}"/>')
        + stroked(f'<path d="M 0 0 L 5 5 M {zigzag}"/>')
        + stroked('<line x2="5"/>')
    )
    result = import_svg(doc(body), max_bytes=1 << 20, max_path_data=100)
    assert [p["d"] for p in result.paths] == ["M 0 0 L 5 0"]
    assert result.skipped_elements == 2
    assert result.skipped_reasons == {SKIPPED_100: 2}


def test_our_export_with_paths_over_the_limit_is_split_on_import() -> None:
    d = " ".join(f"M {i} 0 L {i} 10" for i in range(30))
    entries = [PathEntry(key="a", ts=1.0, deleted=False, d=d, color="#ff0000", width=2.0)]
    exported = export_svg(entries)
    # Under the default limit the exact versions come back.
    assert import_svg(exported, max_bytes=1 << 20).paths == [
        {"d": d, "color": "#ff0000", "width": 2.0}
    ]
    result = import_svg(exported, max_bytes=1 << 20, max_path_data=100)
    assert " ".join(p["d"] for p in result.paths) == d
    assert all(len(p["d"]) <= 100 for p in result.paths)
    assert result.skipped_reasons == {SPLIT_100: 1}


def test_the_default_max_path_data_is_262144_characters() -> None:
    n = DEFAULT_MAX_PATH_DATA // len("M 1000 1000 L 1001 1002 ") + 100
    d = " ".join(f"M {1000 + i} 1000 L {1001 + i} 1002" for i in range(n))
    assert len(d) > DEFAULT_MAX_PATH_DATA
    result = import_svg(doc(stroked(f'<path d="{d}"/>')), max_bytes=5 << 20)
    assert " ".join(p["d"] for p in result.paths) == d
    assert max(len(p["d"]) for p in result.paths) <= DEFAULT_MAX_PATH_DATA
    assert result.skipped_reasons == {"split: path data longer than 262144 characters": 1}


def test_split_subpaths_packs_whole_subpaths_and_refuses_what_cannot_fit() -> None:
    d = "M 0 0 L 1 1 M 2 2 L 3 3 Z M 4 4 L 5 5"
    assert split_subpaths(d, len(d)) == [d]
    assert split_subpaths(d, 25) == ["M 0 0 L 1 1 M 2 2 L 3 3 Z", "M 4 4 L 5 5"]
    assert split_subpaths(d, 13) == ["M 0 0 L 1 1", "M 2 2 L 3 3 Z", "M 4 4 L 5 5"]
    assert split_subpaths(d, 12) is None  # "M 2 2 L 3 3 Z" alone is 13 characters
    with pytest.raises(ValueError):
        split_subpaths("M 0 0 l 1 1 m 2 2 l 1 1", 12)  # relative: a piece would move
