"""Configuration: the generated JWT secret is kept (0600) so tokens survive restarts."""

from __future__ import annotations

import stat

import httpx

from tests.support.servers import FAST_ENV, ServerProcess, create_room


def test_a_generated_secret_is_kept_private_and_tokens_survive_a_restart(tmp_path):
    env = {k: v for k, v in FAST_ENV.items() if k != "WHITEBOARD_JWT_SECRET"}
    server = ServerProcess(tmp_path, env).start()
    try:
        room = create_room(server)
        secret = tmp_path / "jwt_secret"
        assert secret.exists()
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        assert len(secret.read_text().strip()) >= 64
        server.stop()
        server.start()
        answer = httpx.get(f"{server.base_url}/api/rooms/{room.room_id}",
                           headers={"Authorization": f"Bearer {room.token}"})
        assert answer.status_code == 200
    finally:
        server.stop()


def test_a_bad_setting_stops_the_cli_with_a_one_line_reason(tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "migrate"],
        env={"WHITEBOARD_BATCH_INTERVAL_MS": "not-a-number", "PATH": "/usr/bin:/bin"},
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert result.returncode == 2
    assert "bad configuration" in result.stderr
    assert "Traceback" not in result.stderr
