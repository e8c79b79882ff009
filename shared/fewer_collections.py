"""Fewer garbage collections while a long read-and-decide loop runs (the dry run of a big
account's next batch): Python's default gen-0 threshold (700 allocations) makes its cycle
collector run thousands of times over the slice in hand and, each tenth time, over every
object the process holds; the loop makes no reference cycles worth collecting early.

``web`` and the workers set such a threshold for good when they start
(``producers.webhook.tune_gc``, the workers' tuned garbage collector): there this is a
no-op. A command (``contact-sync preview --next``) gets it for the loop's duration only.
Process-wide, as the collector is: the first of overlapping loops raises the threshold,
the last one out puts it back.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

GEN0_THRESHOLD = 50_000
"""As ``web``'s (producers/webhook.py)."""

_lock = threading.Lock()
_inside = 0
_before: tuple[int, int, int] | None = None


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Within: a gen-0 threshold of at least :data:`GEN0_THRESHOLD`."""
    global _inside, _before
    with _lock:
        if _inside == 0:
            threshold = gc.get_threshold()
            if threshold[0] < GEN0_THRESHOLD:
                _before = threshold
                gc.set_threshold(GEN0_THRESHOLD, *threshold[1:])
        _inside += 1
    try:
        yield
    finally:
        with _lock:
            _inside -= 1
            if _inside == 0 and _before is not None:
                gc.set_threshold(*_before)
                _before = None
