"""The demo board that invite links open, in a real browser: two people draw, see each other's
cursors and erase, through a real server (tests/js/browser.mjs drives headless Chromium)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.servers import REPO

JS_DIR = Path(__file__).with_name("js")
CHROMIUM = os.environ.get("WHITEBOARD_CHROMIUM", "/usr/bin/chromium")


def require_chromium() -> None:
    if not Path(CHROMIUM).is_file():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}; the browser test needs it: "
            "apt-get install -y chromium (CI's .ci/run does this)"
        )


def run_browser(base_url: str, out_dir: Path) -> dict:
    done = subprocess.run(
        [shutil.which("node") or "node", str(JS_DIR / "browser.mjs"), base_url, str(out_dir)],
        cwd=JS_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = done.stdout.strip().splitlines()
    assert lines, f"browser.mjs printed nothing (exit {done.returncode}):\n{done.stderr}"
    result = json.loads(lines[-1])
    assert done.returncode == 0 and "error" not in result, (
        f"{result.get('error')}\nsteps: {result['steps']}\nscreenshots: {result['screenshots']}"
        f"\npage errors: {result['page_errors']}\n{done.stderr}"
    )
    return result


def test_invite_link_opens_a_board_where_two_people_draw_see_cursors_and_erase(
    server_factory, tmp_path: Path
) -> None:
    require_chromium()
    server = server_factory()
    result = run_browser(server.base_url, tmp_path)

    assert re.fullmatch(rf"{server.base_url}/rooms/[0-9a-f-]{{36}}", result["invite_url"])
    assert not result["alice_prompted_after_create"]
    assert result["page_errors"] == []

    # What Alice drew reached Bob as the same two strokes, in the order they were drawn.
    assert len(result["alice_strokes"]) == 2
    assert result["bob_strokes"] == result["alice_strokes"]
    first, second = result["bob_strokes"]
    assert (first["stroke"], first["width"]) == ("#1e1e1e", 3)
    assert (second["stroke"], second["width"]) == ("#e03131", 12)
    assert first["d"].startswith("M 300 300") and first["d"].endswith("L 600 420")
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{16}", s["id"]) for s in result["bob_strokes"])

    assert result["bob_sees_cursor_label"] == "Alice"
    assert result["bob_badges"] == 2
    assert result["alice_sees_bob_at"] == "translate(200px, 640px)"

    # Bob's eraser left only the red stroke, on both pages and in the export.
    assert result["alice_strokes_after_erase"] == [second]
    assert result["bob_strokes_after_erase"] == [second]
    assert result["export"] == {"status": 200, "type": "image/svg+xml", "paths": 1}
    assert result["download_href"].startswith(f"/api/rooms/{result['invite_url'][-36:]}/svg?token=")

    assert not result["reload_prompted"]
    assert result["strokes_after_reload"] == 1
    assert "does not exist" in result["unknown_room_message"]

    for shot in result["screenshots"]:
        assert Path(shot).stat().st_size > 10_000


def test_pages_and_the_bundle_are_served_without_node(server_factory) -> None:
    server = server_factory()
    for page in ("/", "/rooms/00000000-0000-4000-8000-000000000000", "/rooms/not-a-room"):
        response = httpx.get(server.base_url + page)
        assert response.status_code == 200, page
        assert response.headers["content-type"].startswith("text/html")
        assert '<script type="module" src="/static/board.js">' in response.text

    bundle = httpx.get(f"{server.base_url}/static/board.js")
    assert bundle.status_code == 200
    assert "javascript" in bundle.headers["content-type"]
    assert bundle.content == (REPO / "server/static/board.js").read_bytes()
    assert httpx.get(f"{server.base_url}/static/board.css").status_code == 200
    assert httpx.get(f"{server.base_url}/static/missing.js").status_code == 404
    assert httpx.get(f"{server.base_url}/static/..%2F..%2Fpyproject.toml").status_code == 404
