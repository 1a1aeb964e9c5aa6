"""Tuning of the server process: memory handed back to the system after large documents."""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable


def _libc_malloc_trim() -> Callable[[int], int] | None:
    try:
        trim: Callable[[int], int] = ctypes.CDLL(
            ctypes.util.find_library("c") or "libc.so.6"
        ).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS)
        return None
    return trim


_MALLOC_TRIM = _libc_malloc_trim()


def release_free_memory() -> None:
    """Hand memory freed by a large document back to the system.

    glibc keeps freed memory in its arenas; without a trim the process would not get
    smaller when a large document goes to sleep or a room closes.
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
