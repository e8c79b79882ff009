"""The start of a worker process, before its broker exists."""

from __future__ import annotations

from shared.settings import get_settings
from shared.telemetry.logs import configure_logging
from shared.telemetry.sentry import init_sentry
from workers.runtime import retry_logging


def prepare_worker_telemetry(process_name: str = "worker") -> None:
    """Logging (text/JSON, masked) and Sentry (when ``SENTRY_DSN`` is set) for this process.
    Call before the broker is created (Sentry patches it)."""
    settings = get_settings()
    configure_logging(settings, process_name)
    retry_logging.install()
    init_sentry(settings, process_name)
