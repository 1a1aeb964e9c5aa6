"""docs/protocol.md §1, what the HTTP side takes in: bodies that are not UTF-8 or not JSON,
size limits, names, content types and origins, security headers, the per-IP limit for IPv6
clients, and the open-files limit the server runs with. All against real server processes."""

from __future__ import annotations

import gzip
import resource
import subprocess
import unicodedata
from collections.abc import Iterator

import httpx
import jwt
import pytest

from tests.support.servers import FAST_ENV, create_room, realtime_env, redis_prefix

SECRET = FAST_ENV["WHITEBOARD_JWT_SECRET"]
JSON = {"content-type": "application/json"}
JSON_LIMIT = 64 * 1024
SVG_LINE = '<path d="M 0 0 L 10 10" stroke="#ff0000" fill="none"/>'


def svg_of(size: int) -> str:
    """An SVG document of about `size` bytes: strokes, padded with a comment."""
    body = SVG_LINE * 3
    pad = max(size - len(body) - 80, 0)
    return f'<svg xmlns="http://www.w3.org/2000/svg"><!--{"x" * pad}-->{body}</svg>'


def rooms_url(server) -> str:
    return f"{server.base_url}/api/rooms"


def join_url(server, room_id: str) -> str:
    return f"{server.base_url}/api/rooms/{room_id}/join"


def short_detail(response: httpx.Response) -> str:
    detail = response.json()["detail"]
    assert isinstance(detail, str) and 0 < len(detail) < 200, detail
    return detail


# Bodies that are not UTF-8 and not JSON


NOT_UTF8 = {
    "utf16-bom": b'\xff\xfe{\x00"\x00n\x00a\x00m\x00e\x00"\x00:\x00"\x00a\x00"\x00}\x00',
    "gzip": gzip.compress(b'{"name": "Alice"}'),
    "latin1-name": '{"name": "Zoë"}'.encode("latin-1"),
}


@pytest.mark.parametrize("body", NOT_UTF8.values(), ids=NOT_UTF8.keys())
def test_a_body_that_is_not_utf8_is_400_with_a_short_detail_and_logs_no_traceback(server, body):
    room = create_room(server)
    for url in (rooms_url(server), join_url(server, room.room_id)):
        response = httpx.post(url, content=body, headers=JSON)
        assert response.status_code == 400, response.text
        assert "UTF-8" in short_detail(response)
    assert "Traceback" not in server.log()


def test_a_compressed_body_declared_with_content_encoding_is_415(server):
    response = httpx.post(
        rooms_url(server),
        content=gzip.compress(b'{"name": "Alice"}'),
        headers={**JSON, "content-encoding": "gzip"},
    )
    assert response.status_code == 415
    assert "gzip" in short_detail(response)


def test_a_url_encoded_form_is_415_like_any_body_that_needs_no_preflight(server):
    response = httpx.post(
        rooms_url(server),
        content=b"name=Mallory",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 415


# Size limits, and what a validation error echoes


def test_a_5_mb_invalid_json_body_is_413_over_the_json_limit(server):
    response = httpx.post(rooms_url(server), content=b"{" * 5_000_000, headers=JSON)
    assert response.status_code == 413
    detail = short_detail(response)
    assert "JSON" in detail and str(JSON_LIMIT) in detail


def test_a_chunked_body_without_a_length_is_cut_off_at_the_json_limit(server):
    def chunks() -> Iterator[bytes]:
        for _ in range(500):  # 5 MB, if the server read it all
            yield b"[" * 10_000

    response = httpx.post(rooms_url(server), content=chunks(), headers=JSON)
    assert response.status_code == 413
    assert "JSON" in short_detail(response)


def test_a_60_kb_invalid_json_body_is_422_with_a_short_answer(server):
    body = b'{"name": "' + b"x" * 60_000  # never closed
    response = httpx.post(rooms_url(server), content=body, headers=JSON)
    assert response.status_code == 422
    assert len(response.content) < 2048
    [error] = response.json()["detail"]
    assert error["type"] == "json_invalid"
    assert len(error["input"]) <= 101


def test_a_validation_error_about_a_large_object_leaves_its_input_out(server):
    response = httpx.post(rooms_url(server), json={"svg": "x" * 60_000})  # no name
    assert response.status_code == 422
    assert len(response.content) < 2048
    [error] = response.json()["detail"]
    assert error["loc"] == ["name"] and error["type"] == "missing"


def test_a_100_kb_json_body_is_413_naming_the_json_limit_not_the_svg(server):
    response = httpx.post(rooms_url(server), json={"name": "Alice", "svg": svg_of(100_000)})
    assert response.status_code == 413
    detail = short_detail(response)
    assert "JSON" in detail and str(JSON_LIMIT) in detail
    assert "SVG is larger" not in detail


def test_max_json_bytes_sets_the_json_limit(server_factory):
    server = server_factory(WHITEBOARD_MAX_JSON_BYTES="2000")
    url = rooms_url(server)
    assert httpx.post(url, json={"name": "Alice", "svg": svg_of(1500)}).status_code == 201
    refused = httpx.post(url, json={"name": "Alice", "svg": svg_of(2500)})
    assert refused.status_code == 413
    assert "2000" in short_detail(refused)


def test_a_multipart_svg_past_the_json_limit_but_within_its_own_is_imported(server):
    svg = svg_of(300_000)
    response = httpx.post(
        rooms_url(server),
        data={"name": "Importer"},
        files={"svg": ("board.svg", svg.encode(), "image/svg+xml")},
    )
    assert response.status_code == 201, response.text
    assert response.json()["imported_paths"] == 3


# Names


BAD_NAMES = {
    "zero-width-space": "\u200b",
    "zero-width-only": "\u200b\u200c\u200d\u2060\ufeff",
    "right-to-left-override": "\u202eecilA",
    "bidi-isolates": "Bob \u2066evil\u2069",
    "rli": "\u2067Mallory",
    "hangul-filler": "\u3164\u3164",
    "lone-combining-mark": " \u0301 ",
    "line-separator": "a\u2028b",
}


@pytest.mark.parametrize("name", BAD_NAMES.values(), ids=BAD_NAMES.keys())
def test_a_name_without_a_visible_character_or_with_format_characters_is_422(server, name):
    room = create_room(server)
    for url in (rooms_url(server), join_url(server, room.room_id)):
        response = httpx.post(url, json={"name": name})
        assert response.status_code == 422, response.text
        assert isinstance(response.json()["detail"], list)


def test_a_name_is_nfc_normalised_in_the_answer_and_the_token(server):
    decomposed = "Zoe\u0308 Cafe\u0301"
    composed = unicodedata.normalize("NFC", decomposed)
    assert composed != decomposed
    created = httpx.post(rooms_url(server), json={"name": decomposed}).json()
    assert created["user"]["name"] == composed
    assert jwt.decode(created["token"], SECRET, algorithms=["HS256"])["name"] == composed
    joined = httpx.post(join_url(server, created["room_id"]), json={"name": decomposed}).json()
    assert joined["user"]["name"] == composed


def test_names_with_emoji_and_other_scripts_are_still_accepted(server):
    for name in ("李小龍", "Ana 🎨", "Ωmega", "محمد"):
        response = httpx.post(rooms_url(server), json={"name": name})
        assert response.status_code == 201, response.text
        assert response.json()["user"]["name"] == name


# Content types and origins


@pytest.mark.parametrize("content_type", ["text/plain", "text/plain;charset=UTF-8", None])
def test_a_body_that_is_not_json_or_a_form_is_415_on_create_and_join(server, content_type):
    room = create_room(server)
    headers = {"content-type": content_type} if content_type else {}
    for url in (rooms_url(server), join_url(server, room.room_id)):
        response = httpx.post(url, content=b'{"name": "Alice"}', headers=headers)
        assert response.status_code == 415, response.text
        short_detail(response)


def test_a_join_also_takes_a_form(server):
    room = create_room(server)
    response = httpx.post(join_url(server, room.room_id), files={"name": (None, "Bob")})
    assert response.status_code == 200, response.text
    assert response.json()["user"]["name"] == "Bob"


def test_a_form_sent_from_another_sites_page_is_refused(server):
    url = rooms_url(server)
    refused = [
        {"origin": "https://evil.example"},
        {"origin": "null"},
        {"origin": "https://evil.example", "sec-fetch-site": "cross-site"},
        {"origin": server.base_url, "sec-fetch-site": "cross-site"},
    ]
    for headers in refused:
        response = httpx.post(url, headers=headers, files={"name": (None, "Alice")})
        assert response.status_code == 403, (headers, response.text)
    # This origin's own pages, and clients that are not browsers, may post forms.
    for headers in ({"origin": server.base_url}, {"sec-fetch-site": "same-origin"}, {}):
        response = httpx.post(url, headers=headers, files={"name": (None, "Alice")})
        assert response.status_code == 201, (headers, response.text)


def preflight(server, origin: str) -> httpx.Response:
    return httpx.options(
        rooms_url(server),
        headers={
            "origin": origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type",
        },
    )


def test_cors_allows_only_the_configured_origins(server_factory):
    server = server_factory(WHITEBOARD_CORS_ORIGINS="https://app.example, https://b.example")
    allowed = preflight(server, "https://app.example")
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert "content-type" in allowed.headers["access-control-allow-headers"].lower()
    other = preflight(server, "https://evil.example")
    assert other.status_code != 200
    assert "access-control-allow-origin" not in other.headers
    created = httpx.post(
        rooms_url(server), json={"name": "Alice"}, headers={"origin": "https://b.example"}
    )
    assert created.status_code == 201
    assert created.headers["access-control-allow-origin"] == "https://b.example"
    # A listed origin may post a form too.
    form = httpx.post(
        rooms_url(server),
        files={"name": (None, "Alice")},
        headers={"origin": "https://app.example", "sec-fetch-site": "cross-site"},
    )
    assert form.status_code == 201


def test_by_default_no_origin_is_allowed_cross_origin(server):
    response = preflight(server, "https://app.example")
    assert response.status_code != 200
    assert "access-control-allow-origin" not in response.headers
    created = httpx.post(
        rooms_url(server), json={"name": "Alice"}, headers={"origin": "https://app.example"}
    )
    assert "access-control-allow-origin" not in created.headers


# Security headers


def assert_common_headers(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_the_board_pages_carry_security_headers_and_a_csp_for_their_own_files(server):
    room = create_room(server)
    for path in ("/", f"/rooms/{room.room_id}"):
        response = httpx.get(f"{server.base_url}{path}")
        assert response.status_code == 200
        assert_common_headers(response)
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp
        assert "script-src 'self';" in csp
        assert "unsafe-eval" not in csp
        assert "object-src 'none'" in csp


def test_api_answers_and_the_svg_export_carry_a_csp_that_runs_nothing(server):
    room = create_room(server)
    created = httpx.post(rooms_url(server), json={"name": "Alice"})
    missing = httpx.post(join_url(server, "not-a-room"), json={"name": "B"})
    export = httpx.get(
        f"{server.base_url}/api/rooms/{room.room_id}/svg", params={"token": room.token}
    )
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("image/svg+xml")
    for response in (created, missing, export):
        assert_common_headers(response)
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp
    assert "sandbox" in export.headers["content-security-policy"]


# The per-IP room limit for IPv6 clients


@pytest.fixture(params=["local", "redis"])
def behind_proxy(request, server_factory):
    """Servers behind a trusted proxy at 127.0.0.1 with a limit of 2 rooms per client."""
    with redis_prefix() as prefix:
        def start(**env):
            return server_factory(**{
                "WHITEBOARD_TRUSTED_PROXIES": "127.0.0.1",
                "WHITEBOARD_MAX_ROOMS_PER_IP": "2",
                **realtime_env(request.param, prefix),
                **env,
            })
        yield start


def create_from(server, address: str) -> int:
    response = httpx.post(
        rooms_url(server), json={"name": "A"}, headers={"x-forwarded-for": address}
    )
    return response.status_code


def test_ipv6_addresses_in_one_64_share_the_room_limit(behind_proxy):
    server = behind_proxy()
    same_64 = ["2001:db8:1:2::1", "2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::99"]
    assert [create_from(server, a) for a in same_64] == [201, 201, 429]
    assert create_from(server, "2001:db8:1:3::1") == 201  # the next /64
    # IPv4 clients still count one address each.
    assert [create_from(server, "198.51.100.1") for _ in range(3)] == [201, 201, 429]
    assert create_from(server, "198.51.100.2") == 201


def test_the_ipv6_prefix_is_configurable(behind_proxy):
    server = behind_proxy(WHITEBOARD_IPV6_PREFIX="48")
    assert [create_from(server, a) for a in ("2001:db8:1:2::1", "2001:db8:1:3::1")] == [201, 201]
    assert create_from(server, "2001:db8:1:ffff::1") == 429
    assert create_from(server, "2001:db8:2::1") == 201


# The open-files limit


def max_open_files(pid: int) -> tuple[int, int]:
    with open(f"/proc/{pid}/limits") as limits:
        for line in limits:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
    raise AssertionError("no Max open files line")


@pytest.fixture
def low_soft_open_files_limit() -> Iterator[int]:
    """This process's soft open-files limit at 1,024 (as a default `ulimit -n`) while a test
    starts servers, which inherit it; the hard limit it may raise them to is yielded."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard <= 1024:
        pytest.skip(f"the hard open-files limit here is {hard}: this test wants one above 1024")
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    try:
        yield hard
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_the_server_raises_its_soft_open_files_limit_to_the_hard_limit(
    server_factory, low_soft_open_files_limit
):
    server = server_factory()
    assert server.process is not None
    assert max_open_files(server.process.pid) == (low_soft_open_files_limit,) * 2
    assert "open files limit raised" in server.log()
    assert "open files limit is" not in server.log()  # no warning: it is past 4,096


def test_a_hard_open_files_limit_below_4096_is_warned_about(server_factory, monkeypatch):
    popen = subprocess.Popen

    def with_low_limits(*args, **kwargs):
        limits = (1024, 2048)
        return popen(*args, **kwargs,
                     preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, limits))

    with monkeypatch.context() as patch:
        patch.setattr(subprocess, "Popen", with_low_limits)
        server = server_factory()
    assert server.process is not None
    assert max_open_files(server.process.pid) == (2048, 2048)
    warning = [line for line in server.log().splitlines() if "open files limit is 2048" in line]
    assert warning, server.log()
    assert "warning" in warning[0].lower() and "hard limit 2048" in warning[0]
