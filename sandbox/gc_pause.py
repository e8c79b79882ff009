"""The cyclic garbage collector held off while a bulk import allocates in a burst.

Parsing a 10,000-profile body and checking its rows, or applying a slice of a job, makes
tens of thousands of dicts and strings that live on (in the store or the job): each 700 of
them trigger a collection that walks the young objects and, every so often, the whole store
(~15 % of a bulk import's CPU in ``bench.sandbox_speed``). Nothing there makes cycles to
collect, so the collector is paused for the burst and runs again afterwards. Reference
counting frees memory as usual meanwhile. A section never awaits, so on one event loop
sections never overlap; a collector disabled by someone else stays disabled.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic collection inside the block (unless it was already off, nothing changes)."""
    was_on = gc.isenabled()
    if was_on:
        gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
