"""Small real file systems for tests of a full disk: a tmpfs of a few megabytes.

Mounting needs root (as the tests run here and in CI); elsewhere the test is skipped.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def small_file_system(path: Path, megabytes: int) -> Iterator[Path]:
    """A tmpfs of `megabytes` mounted at `path` for the block; skips the test if it cannot be."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={megabytes}M", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs at {path}: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        # Lazy: a server still holding a file there lets go of it when it stops.
        subprocess.run(["umount", "--lazy", str(path)], check=True)


def resize(path: Path, megabytes: int) -> None:
    """Grow (or shrink) the tmpfs at `path`, as an operator freeing space would."""
    subprocess.run(
        ["mount", "-o", f"remount,size={megabytes}M", str(path)], check=True, capture_output=True
    )


def fill(path: Path) -> Path:
    """A file in `path` that takes every byte left on its file system; delete it to free them."""
    filler = path / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for chunk in (1 << 20, 1 << 12):  # big steps, then page by page to the last one
            while True:
                try:
                    os.write(fd, bytes(chunk))
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(fd)
    assert os.statvfs(path).f_bavail == 0, "the filler did not take all the space"
    return filler

