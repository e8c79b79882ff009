"""Hand memory that Python freed back to the operating system (glibc's ``malloc_trim``).

Python hands big objects (a chunk's 3-4 MB JSON, its 10,000 parsed rows) to the C
allocator. glibc keeps one heap ("arena") per thread that allocates concurrently, up to 8
per core, and keeps what is freed in each for later instead of returning it. A Dramatiq
worker runs 8 threads, and the chunk messages (building a body, recording a finished job)
land on whichever thread is free: every thread's arena grows to one chunk's peak and stays
there. Measured with ``bench.push_throughput --contacts 100000 --default-list``: 712 MB
peak, against 352 MB with ``MALLOC_ARENA_MAX=2`` and 371 MB calling :func:`release` after
each chunk (docs/PERFORMANCE.md, "Big batches"). ``malloc_trim(0)`` walks the arenas and
returns their free pages: ~ms of CPU once per 10,000-profile chunk.

Elsewhere (macOS, musl) there is no ``malloc_trim``: :func:`release` does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable

_trim: Callable[[int], int] | None = None
try:
    _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    _trim = _libc.malloc_trim
except (OSError, AttributeError):
    _trim = None


def release() -> bool:
    """Return freed heap pages of every arena to the OS; True when glibc did so."""
    return bool(_trim(0)) if _trim is not None else False
