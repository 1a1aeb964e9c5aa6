"""Hostile and unreadable uploads are refused with a typed error that says why."""

from __future__ import annotations

import pytest

from crdt.svg import SvgError, SvgTooLarge, import_svg

SVG_OPEN = '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
LIMIT = 1 << 20

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE svg [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<svg xmlns="http://www.w3.org/2000/svg"><title>&lol9;</title></svg>
"""


def refused(data: bytes | str, **limits: int) -> SvgError:
    with pytest.raises(SvgError) as info:
        import_svg(data, **{"max_bytes": LIMIT, **limits})
    return info.value


def test_billion_laughs_is_refused_at_the_doctype() -> None:
    error = refused(BILLION_LAUGHS)
    assert not isinstance(error, SvgTooLarge)
    assert "internal subset" in str(error) and "entity" in str(error)


def test_quadratic_blowup_is_refused() -> None:
    big = "A" * 100_000
    data = (
        f'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "{big}">]>'
        f"{SVG_OPEN}<title>{'&a;' * 5_000}</title></svg>"
    )
    assert "internal subset" in str(refused(data))


def test_xxe_reading_a_local_file_is_refused() -> None:
    data = (
        '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        f"{SVG_OPEN}<title>&xxe;</title></svg>"
    )
    error = refused(data)
    assert "internal subset" in str(error)
    assert "root:" not in str(error)


def test_xxe_fetching_a_url_is_refused() -> None:
    data = (
        '<?xml version="1.0"?>'
        '<!DOCTYPE svg [<!ENTITY xxe SYSTEM "http://127.0.0.1:9/secret">]>'
        f"{SVG_OPEN}<title>&xxe;</title></svg>"
    )
    assert "internal subset" in str(refused(data))


def test_parameter_entity_xxe_is_refused() -> None:
    data = (
        '<?xml version="1.0"?>'
        '<!DOCTYPE svg [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;]>'
        f"{SVG_OPEN}</svg>"
    )
    assert "internal subset" in str(refused(data))


def test_external_dtd_is_refused() -> None:
    data = f'<!DOCTYPE svg SYSTEM "http://127.0.0.1:9/evil.dtd">{SVG_OPEN}</svg>'
    error = refused(data)
    assert "external DTD" in str(error) and "evil.dtd" in str(error)


def test_standard_svg_public_id_with_a_foreign_system_id_is_refused() -> None:
    data = f'<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "file:///etc/passwd">{SVG_OPEN}</svg>'
    assert "external DTD" in str(refused(data))


def test_the_standard_svg_doctype_alone_is_accepted() -> None:
    data = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
        '"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n'
        f'{SVG_OPEN}<line x2="1" stroke="red"/></svg>'
    )
    assert len(import_svg(data, max_bytes=LIMIT).paths) == 1


def test_undeclared_entity_is_not_well_formed() -> None:
    assert "not well-formed XML" in str(refused(f"{SVG_OPEN}<title>&nope;</title></svg>"))


def test_too_many_elements_are_refused_with_the_limit() -> None:
    data = SVG_OPEN + '<line x2="1" stroke="red"/>' * 100 + "</svg>"
    assert len(import_svg(data, max_bytes=LIMIT, max_elements=101).paths) == 100
    error = refused(data, max_elements=100)
    assert str(error) == "SVG has more than 100 elements"


def test_too_deep_nesting_is_refused_with_the_limit() -> None:
    data = SVG_OPEN + "<g>" * 64 + "</g>" * 64 + "</svg>"
    assert str(refused(data)) == "SVG elements are nested deeper than 64 levels"
    assert import_svg(data, max_bytes=LIMIT, max_depth=65).paths == []


def test_exponential_use_expansion_is_refused() -> None:
    levels = ['<line id="l0" x2="1" stroke="red"/>']
    for i in range(1, 20):
        uses = "".join(f'<use href="#l{i - 1}"/>' for _ in range(10))
        levels.append(f'<g id="l{i}">{uses}</g>')
    data = SVG_OPEN + "<defs>" + "".join(levels) + '</defs><use href="#l19"/></svg>'
    error = refused(data)
    assert "more than 50000 elements once <use> is expanded" in str(error)


def test_too_many_bytes_are_refused_before_parsing_with_the_limit() -> None:
    data = b"this is not even XML" * 100
    with pytest.raises(SvgTooLarge) as info:
        import_svg(data, max_bytes=1000)
    assert info.value.limit == 1000
    assert "larger than the limit of 1000 bytes" in str(info.value)
    assert isinstance(info.value, SvgError)


def test_text_is_measured_in_utf8_bytes() -> None:
    data = f"{SVG_OPEN}<title>{'é' * 600}</title></svg>"
    assert len(data) < 1300 < len(data.encode())
    with pytest.raises(SvgTooLarge):
        import_svg(data, max_bytes=1300)
    assert import_svg(data.encode(), max_bytes=1400).paths == []


@pytest.mark.parametrize(
    "data",
    [b"", b"\x89PNG\r\n\x1a\n\x00\x00", b"hello world", b"<svg", "<svg>\udc80</svg>"],
)
def test_input_that_is_not_xml_is_refused(data: bytes | str) -> None:
    assert str(refused(data)).startswith(("not well-formed XML", "not readable as XML"))


@pytest.mark.parametrize(
    ("data", "root"),
    [
        ("<html><body/></html>", "<html>"),
        ('<svg xmlns="urn:not-svg"/>', "<{urn:not-svg}svg>"),
        ('<x:svg xmlns:x="http://www.w3.org/1999/xhtml"/>', "<{http://www.w3.org/1999/xhtml}svg>"),
    ],
)
def test_xml_that_is_not_svg_is_refused_naming_its_root(data: str, root: str) -> None:
    error = refused(data)
    assert str(error) == f"not an SVG document: the root element is {root}, expected <svg>"


def test_unterminated_css_comments_do_not_stall_the_import() -> None:
    data = f'{SVG_OPEN}<style>{"/*" * 200_000}</style><line x2="1" stroke="red"/></svg>'
    assert len(import_svg(data, max_bytes=LIMIT).paths) == 1


def test_many_css_rules_are_capped_and_cached() -> None:
    rules = "".join(f".c{i} {{ stroke: red }}" for i in range(5_000))
    lines = "".join(f'<line class="c{i % 50} u{i}" id="i{i}" x2="1"/>' for i in range(5_000))
    result = import_svg(f"{SVG_OPEN}<style>{rules}</style>{lines}</svg>", max_bytes=LIMIT)
    assert len(result.paths) == 5_000


def test_an_unclosed_transform_list_is_ignored_without_quadratic_backtracking() -> None:
    # svgelements' transform regex alone takes minutes on this (quadratic backtracking)
    data = f'{SVG_OPEN}<line x2="1" stroke="red" transform="{"translate(1," * 80_000}"/></svg>'
    assert import_svg(data, max_bytes=LIMIT).paths == [
        {"d": "M 0 0 L 1 0", "color": "#ff0000", "width": 1}
    ]


def test_deeply_nested_json_in_our_metadata_is_ignored() -> None:
    meta = '<metadata><wb:paths xmlns:wb="urn:x-whiteboard:svg-export:1">'
    data = f'{SVG_OPEN}{meta}{"[" * 100_000}</wb:paths></metadata><line x2="1" stroke="red"/></svg>'
    assert import_svg(data, max_bytes=LIMIT).paths == [
        {"d": "M 0 0 L 1 0", "color": "#ff0000", "width": 1}
    ]


def test_metadata_entries_are_validated_like_any_input() -> None:
    meta = '<metadata><wb:paths xmlns:wb="urn:x-whiteboard:svg-export:1">{}</wb:paths></metadata>'
    line = '<path d="{}" stroke="#ff0000" stroke-width="1" fill="none"/>'
    for paints, d in (
        ('[{"color":"#ff0000","width":5000}]', "M 0 0 L 1 0"),
        ('[{"color":"red","width":1}]', "M 0 0 L 1 0"),
        ('[{"color":"#ff0000","width":true}]', "M 0 0 L 1 0"),
        ('[{"color":"#ff0000","width":1,"ts":5}]', "M 0 0 L 1 0"),
        ('{"color":"#ff0000","width":1}', "M 0 0 L 1 0"),
        ('[{"color":"#ff0000","width":1}]', "M 0 0 L 1 0 L"),
    ):
        data = f"{SVG_OPEN}{meta.format(paints)}{line.format(d)}</svg>"
        assert import_svg(data, max_bytes=LIMIT).paths == [
            {"d": "M 0 0 L 1 0", "color": "#ff0000", "width": 1}
        ], paints


def test_path_data_not_starting_with_a_moveto_draws_nothing() -> None:
    data = f'{SVG_OPEN}<path d="L 10 10 20 20" stroke="red"/></svg>'
    assert import_svg(data, max_bytes=LIMIT).paths == []


def test_a_path_too_long_for_a_stroke_once_made_absolute_is_skipped() -> None:
    # 0.5 MB of relative steps becomes more than the MAX_PATH_DATA characters (262,144 by
    # default) a stroke may hold, in one subpath: it cannot be split, so it is skipped
    steps = " l1 1" * 100_000
    data = f'{SVG_OPEN}<path stroke="red" d="M 0 0{steps}"/><line x2="1" stroke="red"/></svg>'
    result = import_svg(data, max_bytes=LIMIT)
    assert [p["d"] for p in result.paths] == ["M 0 0 L 1 0"]
    assert result.skipped_elements == 1
