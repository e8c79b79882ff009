"""A worker process tunes Python's garbage collector when it boots
(workers/runtime/middleware/tuned_garbage_collector.py): what it imported is frozen out of
the collector's sight and the young generation runs far less often. Checked in a fresh
process, so the test process keeps CPython's defaults."""

from __future__ import annotations

import json
import subprocess
import sys

from workers.runtime.middleware.tuned_garbage_collector import OLDER_THRESHOLDS, YOUNG_THRESHOLD

BOOT = """
import gc, json, sys
import dramatiq
from workers.runtime.broker import setup_broker
before = gc.get_threshold()
worker = dramatiq.Worker(setup_broker(sys.argv[1]), worker_threads=1, worker_timeout=100)
worker.start()
try:
    print(json.dumps({"before": before, "after": gc.get_threshold(),
                      "frozen": gc.get_freeze_count()}))
finally:
    worker.stop()
"""


def test_a_booted_worker_freezes_its_imports_and_collects_young_garbage_less_often(
        redis_url: str) -> None:
    done = subprocess.run([sys.executable, "-c", BOOT, redis_url], capture_output=True,
                          text=True, timeout=120, check=True)
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["before"] == [700, 10, 10]  # CPython's own, until the worker boots
    assert seen["after"] == [YOUNG_THRESHOLD, *OLDER_THRESHOLDS]
    assert seen["frozen"] > 10_000  # the SDK, pydantic, dramatiq: imported, never garbage
