"""Python's cyclic garbage collector, set for a worker that builds big short-lived
structures.

A chunk's rows and payload (10,000 profiles: ~200,000 dicts, lists and strings, parsed at
once), a planning slice (5,000 parsed mirrors), an import job's answer: each allocation of
a container counts towards the collector's next run, so with CPython's default thresholds
(700, 10, 10) parsing one chunk runs the young collection ~300 times, and each older
collection walks everything alive -- the imported SDK, pydantic's schemas and the very
rows being built. Measured with ``python -m bench.push_throughput --default-list``
(100,000 first-time contacts): the collector was ~40 % of the worker's CPU (docs/
PERFORMANCE.md, "The garbage collector").

So, when a worker boots: what was imported is moved out of the collector's sight for good
(:func:`gc.freeze`: modules, classes and schemas are not garbage and never will be) and the
young generation runs every :data:`YOUNG_THRESHOLD` allocations instead of 700. Cycles are
still collected (nothing the sync builds relies on them; an exception's traceback is the
usual one), later and in fewer passes; the memory this costs is bounded by the threshold
(at most ~50,000 young containers waiting), a few MB.
"""

from __future__ import annotations

import gc
from typing import Any

from dramatiq.middleware import Middleware

YOUNG_THRESHOLD = 50_000
"""Container allocations (minus frees) between two young collections (CPython: 700)."""
OLDER_THRESHOLDS = (20, 100)
"""Young collections per middle one, middle ones per full one (CPython: 10, 10)."""


def tune_garbage_collector() -> None:
    """Freeze what this process holds now (collected first, so no garbage is frozen) and
    raise the thresholds. Call once the process has imported what it runs."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)


class TunedGarbageCollector(Middleware):
    """Tunes the garbage collector of each worker process as it boots (its actors are
    imported by then)."""

    def before_worker_boot(self, broker: Any, worker: Any) -> None:
        tune_garbage_collector()
