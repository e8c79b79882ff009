"""How each process of contact-sync starts its telemetry, in one place.

Every process (``web``, ``collector``, ``scheduler``, ``worker``) calls
:func:`start_process` once, as it starts, before it does its work. The order is the
same everywhere and it matters:

1. logging (text or JSON, masked: :mod:`shared.telemetry.logs`), first, so that every
   line after it -- Sentry's own included -- is formatted and masked;
2. a worker's retry filter (:mod:`shared.telemetry.retry_logging`: one traceback per
   failing message), on the logging just configured;
3. Sentry (when ``SENTRY_DSN`` is set: :mod:`shared.telemetry.sentry`), last -- and in a
   worker BEFORE the Dramatiq broker is created, since Sentry's integration patches the
   broker class (``workers/dramatiq_app.py`` calls this first).

A process's own tuning stays with what it tunes: the web's garbage collector when its
server starts (``producers/webhook.py``, in each server process), a worker's as it boots
(``workers/runtime/middleware/tuned_garbage_collector.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from shared.settings import Settings
from shared.telemetry import retry_logging
from shared.telemetry.logs import configure_logging
from shared.telemetry.sentry import init_sentry

Process = Literal["web", "collector", "scheduler", "worker"]
Step = tuple[str, Callable[[Settings, str], object]]

LOGGING: Step = ("logging", configure_logging)
RETRY_LOGGING: Step = ("retry logging", lambda _settings, _name: retry_logging.install())
SENTRY: Step = ("sentry", init_sentry)

STEPS: dict[Process, tuple[Step, ...]] = {
    "web": (LOGGING, SENTRY),
    "collector": (LOGGING, SENTRY),
    "scheduler": (LOGGING, SENTRY),
    "worker": (LOGGING, RETRY_LOGGING, SENTRY),
}
"""What each process starts, in order (see the module docstring)."""


def start_process(settings: Settings, process: Process) -> list[str]:
    """Start the telemetry of ``process``; returns the names of the steps taken, in order."""
    taken = []
    for name, step in STEPS[process]:
        step(settings, process)
        taken.append(name)
    return taken
