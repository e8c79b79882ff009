"""How many chunks' request bodies a worker process holds at once: the bound of its memory."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from shared import freed_memory
from shared.settings import Tuning

_bodies: list[threading.BoundedSemaphore] = []
_bodies_lock = threading.Lock()


@contextmanager
def body_slot(tuning: Tuning) -> Iterator[None]:
    """Hold while a chunk's request body exists, or while a finished job's rows are
    recorded (``with body_slot(tuning): ...``): at most ``SYNC_CHUNK_BODIES_AT_ONCE`` (1)
    per worker process. A 10,000-profile chunk weighs ~150 MB while its rows are parsed,
    the body built and posted, or its synced records written in one MULTI: with
    Dramatiq's 8 threads all doing that at once a process peaked at ~900 MB at 100,000
    contacts, with two at once at ~750 MB at 1,000,000. Building a body is CPU work under
    the GIL, so more at once is hardly faster; polls and other messages are not held.

    On leaving, the memory the chunk freed is handed back to the OS
    (:mod:`shared.freed_memory`): otherwise each of the 8 threads' heaps keeps one chunk's
    peak (712 MB instead of ~370 MB at 100,000 contacts)."""
    with _bodies_lock:
        if not _bodies:
            _bodies.append(threading.BoundedSemaphore(tuning.chunk_bodies_at_once))
    with _bodies[0]:
        try:
            yield
        finally:  # before the next chunk may start: the peak is one chunk's
            freed_memory.release()
