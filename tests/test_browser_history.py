"""The demo board's import and history in a real browser (tests/js/board_history.mjs drives
headless Chromium): the home page starts a board from an SVG file, or says why a file cannot be
used and creates nothing; the History panel lists a board's points with previews, and "Restore
this version" brings an erased board back for everyone on it."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.test_browser_demo import JS_DIR, require_chromium

FIXTURES = Path(__file__).with_name("fixtures") / "svg"

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE svg [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<svg xmlns="http://www.w3.org/2000/svg"><text>&lol3;</text></svg>
"""


def run_board(scenario: str, base_url: str, out_dir: Path, *files: Path) -> dict:
    done = subprocess.run(
        [
            shutil.which("node") or "node",
            str(JS_DIR / "board_history.mjs"),
            scenario,
            base_url,
            str(out_dir),
            *map(str, files),
        ],
        cwd=JS_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = done.stdout.strip().splitlines()
    assert lines, f"board_history.mjs printed nothing (exit {done.returncode}):\n{done.stderr}"
    result = json.loads(lines[-1])
    assert done.returncode == 0 and "error" not in result, (
        f"{result.get('error')}\nsteps: {result['steps']}\nscreenshots: {result['screenshots']}"
        f"\npage errors: {result['page_errors']}\n{done.stderr}"
    )
    assert result["page_errors"] == [] and result["console_errors"] == []
    return result


def rooms_in_database(server) -> int:
    with sqlite3.connect(server.data_dir / "whiteboard.db") as conn:
        return conn.execute("SELECT count(*) FROM room").fetchone()[0]


def test_the_home_page_starts_a_board_from_an_svg_file_and_refuses_one_it_cannot_read(
    server_factory, tmp_path: Path
) -> None:
    require_chromium()
    # One live room per address: a refused file that kept a room would make the good one 429.
    server = server_factory(WHITEBOARD_MAX_SVG_BYTES="100000", WHITEBOARD_MAX_ROOMS_PER_IP="1")
    not_svg = tmp_path / "notes.txt"
    not_svg.write_text("Shopping list: milk, eggs\n")
    hostile = tmp_path / "laughs.svg"
    hostile.write_text(BILLION_LAUGHS)
    too_big = FIXTURES / "tldraw-cli-test-sketch.svg"  # 214,172 bytes
    good = FIXTURES / "excalidraw-random.svg"  # 15 drawable shapes (MANIFEST.md)
    shots = tmp_path / "shots"
    shots.mkdir()

    result = run_board("import", server.base_url, shots, not_svg, hostile, too_big, good)

    refused = {r["file"]: r for r in result["refused"]}
    for name, why in [
        ("notes.txt", "the SVG cannot be read"),
        ("laughs.svg", "the SVG cannot be read"),
        ("tldraw-cli-test-sketch.svg", "larger than the limit of 100000 bytes"),
    ]:
        message = refused[name]["message"]
        assert message.startswith(f"{name} cannot be used: "), message
        assert why in message and message.endswith("Nothing was created."), message
        assert refused[name]["url"] == f"{server.base_url}/"
        assert refused[name]["rooms_kept"] == []
    assert "entity" in refused["laughs.svg"]["message"]

    assert re.fullmatch(rf"{server.base_url}/rooms/[0-9a-f-]{{36}}", result["invite_url"])
    assert result["imported"] == 15
    assert result["strokes"] == 15
    assert result["notice"].startswith("Started from excalidraw-random.svg: 15 strokes imported.")
    assert result["notice_after_reload"] == 0
    assert result["rooms_kept"] == [f"whiteboard:room:{result['invite_url'][-36:]}"]
    assert rooms_in_database(server) == 1
    for shot in result["screenshots"]:
        assert Path(shot).stat().st_size > 10_000


def test_the_history_panel_lists_points_with_previews_and_restores_an_erased_board(
    server_factory, tmp_path: Path
) -> None:
    require_chromium()
    server = server_factory(WHITEBOARD_SNAPSHOT_INTERVAL_S="0.5")

    result = run_board("history", server.base_url, tmp_path)

    # Newest first, as the API lists them: the erased board, the two strokes, ..., the creation.
    listed, points = result["listed"], result["api_points"]
    assert [p["at"] for p in listed] == [p["at"] for p in points]
    assert [p["at"] for p in points] == sorted((p["at"] for p in points), reverse=True)
    assert points[0] == {"at": result["erased_at"], "paths": 0}
    assert {"at": result["drawn_at"], "paths": 2} in points
    assert points[-1]["paths"] == 0

    zone = ZoneInfo(result["timezone"])
    for item, point in zip(listed, points, strict=True):
        assert item["datetime"] == point["at"]
        assert item["count"] == f"{point['paths']} stroke{'' if point['paths'] == 1 else 's'}"
        local = datetime.fromisoformat(point["at"].replace("Z", "+00:00")).astimezone(zone)
        assert f"{local:%-I:%M:%S}" in item["time"], (item["time"], local)
        assert item["button"] == "Restore this version"
        # A preview is fetched when it scrolls into view; an empty board needs none.
        if item["preview_state"] == "loaded":
            assert item["preview_src"] == "blob"
            assert item["preview_is_the_point"]
            assert item["api_paths"] == point["paths"] > 0
            assert item["preview_ink_pixels"] > 100
            assert item["preview_alt"] == f"The board on {item['time']}"
        elif item["preview_state"] == "empty":
            assert point["paths"] == 0 and item["preview_text"] == "Empty board"
        else:
            assert item["preview_state"] is None, item
    states = {item["at"]: item["preview_state"] for item in listed}
    assert states[result["erased_at"]] == "empty"
    assert states[result["drawn_at"]] == "loaded"
    assert listed[-1]["preview_state"] in ("empty", None)

    assert result["toggle_expanded"] == "true"
    assert result["restore_message"].startswith("Restored the board as it was on ")
    assert result["restore_message"].endswith(": 2 strokes changed.")
    # The same strokes as drawn (same ids, data, colours and widths), on both pages.
    assert result["alice_after_restore"] == result["drawn"]
    assert result["bob_after_restore"] == result["drawn"]
    assert result["toggle_expanded_after_close"] == "false"
    for shot in result["screenshots"]:
        assert Path(shot).stat().st_size > 10_000
