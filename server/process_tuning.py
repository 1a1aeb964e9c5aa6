"""Tuning of the server process: the garbage collector, and memory handed back to the system."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
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


def tune_garbage_collector() -> None:
    """Keep the cyclic garbage collector's full passes short and rare.

    Under load (hundreds of connections) a full collection walked every object the
    imports made as well and stopped the event loop for 60-170 ms at a time: that was
    the tail of the relay latency. Objects alive now live as long as the process, so
    they are frozen out of collections; the young generation is collected less often.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)
