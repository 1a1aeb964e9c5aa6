"""The wheel is complete: built from the sources alone, installed into a fresh virtualenv
outside the repository, `whiteboard` serves the board, the API and live sync from an empty
folder on its embedded defaults.

The build and install steps are those of docker/Dockerfile: `pip wheel --no-deps` of the
sources the image copies, then `pip install` of that wheel into a venv.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.client import BoardClient
from tests.support.servers import REPO, free_port

# What docker/Dockerfile copies into its build stage: the wheel needs nothing else.
SOURCES = ("pyproject.toml", "README.md", "server", "crdt", "persistence")
STROKE = {"d": "M 10 10 L 20 20", "color": "#1e1e1e", "width": 2}


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path

    def command(self, name: str) -> str:
        return str(self.venv / "bin" / name)


def _clean_env() -> dict[str, str]:
    """The environment of a user who never heard of this repository or its settings."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("WHITEBOARD_") and key not in ("PYTHONPATH", "VIRTUAL_ENV")
    }


def _run(args: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    work = tmp_path_factory.mktemp("wheel")
    sources = work / "src"
    sources.mkdir()
    for name in SOURCES:
        origin = REPO / name
        if origin.is_dir():
            shutil.copytree(origin, sources / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(origin, sources / name)
    dist = work / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), "."], sources)
    (wheel,) = dist.glob("whiteboard_server-*.whl")
    venv = work / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], work)
    _run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(wheel)],
         work)
    return Installed(wheel, venv)


@pytest.fixture
def empty_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder


def test_the_wheel_carries_the_board_bundle_and_the_migrations(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    for built in ("index.html", "board.js", "board.css"):
        assert f"server/static/{built}" in names
    assert "persistence/migrations/env.py" in names
    assert any(n.startswith("persistence/migrations/versions/0001_") for n in names)
    assert not any(n.startswith(("tests/", "examples/", "bench/")) for n in names)


def test_the_installed_package_is_imported_from_the_venv_not_the_sources(
    installed: Installed, empty_folder: Path
) -> None:
    where = _run(
        [installed.command("python"), "-c", "import server; print(server.__file__)"],
        empty_folder,
    ).stdout.strip()
    assert Path(where).is_relative_to(installed.venv), where


def test_whiteboard_migrate_creates_the_database_in_an_empty_folder(
    installed: Installed, empty_folder: Path
) -> None:
    result = _run([installed.command("whiteboard"), "migrate"], empty_folder)
    assert "latest schema" in result.stdout
    assert (empty_folder / "data" / "whiteboard.db").is_file()


@pytest.fixture
def served(installed: Installed, empty_folder: Path) -> Iterator[str]:
    port = free_port()
    log_path = empty_folder.parent / "server.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [installed.command("whiteboard"), "serve", "--port", str(port)],
            cwd=empty_folder, env=_clean_env(), stdout=log, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"server exited:\n{log_path.read_text()}"
            assert time.monotonic() < deadline, f"server did not start:\n{log_path.read_text()}"
            try:
                if httpx.get(f"{base}/healthz", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(15)


@pytest.mark.anyio
async def test_the_installed_server_serves_board_api_and_sync_from_an_empty_folder(
    served: str, empty_folder: Path
) -> None:
    home = httpx.get(f"{served}/")
    assert home.status_code == 200 and "text/html" in home.headers["content-type"]
    invite = httpx.get(f"{served}/rooms/{uuid.uuid4()}")
    assert invite.status_code == 200 and invite.text == home.text
    bundle = httpx.get(f"{served}/static/board.js")
    assert bundle.status_code == 200
    assert bundle.content == (REPO / "server" / "static" / "board.js").read_bytes()

    created = httpx.post(f"{served}/api/rooms", json={"name": "Alice"})
    assert created.status_code == 201, created.text
    alice = created.json()
    assert httpx.get(alice["invite_url"]).status_code == 200
    joined = httpx.post(f"{served}/api/rooms/{alice['room_id']}/join", json={"name": "Bob"})
    assert joined.status_code == 200, joined.text
    bob = joined.json()
    async with BoardClient(alice["ws_url"], alice["token"]) as a, \
            BoardClient(bob["ws_url"], bob["token"]) as b:
        await a.synced.wait()
        await b.synced.wait()
        await a.draw("from-the-wheel", STROKE)
        await b.wait_for(lambda: "from-the-wheel" in b.board())
    # Embedded defaults: the database and the generated secret under ./data of the folder.
    assert (empty_folder / "data" / "whiteboard.db").is_file()
    assert (empty_folder / "data" / "jwt_secret").is_file()
