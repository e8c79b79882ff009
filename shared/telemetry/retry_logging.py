"""One traceback per failing message, not one per retry.

Dramatiq logs every failed attempt of a message with its full traceback; a chunk that fails
ten times over a quarter of an hour fills the log with ten copies. :class:`OneTraceback`
(a filter on Dramatiq's worker-thread logger) keeps the traceback of a message's first
failure and turns each retry's record into one line naming the attempt and the error.
"""

from __future__ import annotations

import logging
from typing import Any

WORKER_LOGGER = "dramatiq.worker.WorkerThread"


class OneTraceback(logging.Filter):
    """See the module docstring."""

    def filter(self, record: logging.LogRecord) -> bool:
        message: Any = record.args[0] if isinstance(record.args, tuple) and record.args \
            else None
        options = getattr(message, "options", None)
        if not isinstance(options, dict) or not record.exc_info:
            return True
        retries = int(options.get("retries") or 0)
        if retries == 0:
            return True
        error = record.exc_info[1]
        record.msg = "Failed to process message %s again (retry %d): %s"
        record.args = (message, retries, type(error).__name__ if error else "error")
        record.exc_info = None
        record.exc_text = None
        return True


def install() -> None:
    """Add the filter to Dramatiq's worker-thread logger (once)."""
    logger = logging.getLogger(WORKER_LOGGER)
    if not any(isinstance(f, OneTraceback) for f in logger.filters):
        logger.addFilter(OneTraceback())
