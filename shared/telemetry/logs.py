"""Logging of every contact-sync process: text or JSON lines, personal data masked.

``configure_logging(settings, "worker")`` once at process start. With
``SYNC_LOG_FORMAT=json`` each record is one JSON object on one line::

    {"time": "2026-11-22T10:00:00.123Z", "level": "INFO", "process": "worker",
     "logger": "workers.push.batch", "message": "batch done", "account": "acme",
     "batch_id": "b-1"}

``account``, ``batch_id`` (and ``chunk_id``, ``event_id``, ``contact_id``) come from
``extra={...}`` or from :func:`log_context` (contextvars, so every line logged while a
batch runs carries its ids). Emails, phone numbers and Klaviyo keys are masked in every
message and traceback, whatever the format.

One log call is one line (plus, in text, its traceback's indented lines): control
characters in a message or an id (an ``event_id`` with CR/LF from a webhook body would
otherwise forge lines) are written as escapes (``\\r``, ``\\n``, ``\\x1b``); a traceback
keeps its line breaks, every other control character escaped, and in text each of its lines
is indented, so none can pass for a record of its own.

In a Dramatiq worker, :class:`BrokerOutageFilter` turns the consumer threads' lines during
a Redis outage (a CRITICAL and a "Restarting consumer" line every 3 s for each queue) into
one warning, and a probe logs the outage's end once.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

import redis

from shared.broker_redis import BrokerNotConfigured, broker_url, is_rabbitmq_url, url_passwords
from shared.redis_client import RedisOutage, connect, redis_address
from shared.settings import Settings
from shared.telemetry.scrub import scrub_text

CONTEXT_FIELDS = ("account", "batch_id", "chunk_id", "event_id", "contact_id")
"""Ids a log line may carry (never personal data)."""

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
"""C0 and C1 control characters, DEL and the Unicode line/paragraph separators."""
CONTROL_BUT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")
NAMED_ESCAPES = {"\r": "\\r", "\n": "\\n", "\t": "\\t"}
TRACEBACK_INDENT = "    "


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    return NAMED_ESCAPES.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100
                                       else f"\\u{ord(char):04x}")


def escape_controls(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with control characters written as escapes (``\\r``, ``\\n``, ``\\x1b``),
    line breaks kept when ``keep_newlines`` (tracebacks)."""
    return (CONTROL_BUT_NEWLINE if keep_newlines else CONTROL).sub(_escape, text)


_context: ContextVar[dict[str, str]] = ContextVar("contact_sync_log_context", default={})  # noqa: B039


@contextmanager
def log_context(**ids: str | None) -> Iterator[None]:
    """Attach ids (account, batch_id, ...) to every record logged inside the block."""
    unknown = set(ids) - set(CONTEXT_FIELDS)
    if unknown:
        raise ValueError(f"log_context: unknown field(s) {sorted(unknown)}; use {CONTEXT_FIELDS}")
    merged = {**_context.get(), **{k: str(v) for k, v in ids.items() if v is not None}}
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


def secrets_of(settings: Settings) -> list[str]:
    """The configured secret values, to be masked wherever they appear."""
    client_secret = settings.oauth_client_secret
    values = [settings.klaviyo_api_key, settings.secret_key, settings.crm_webhook_secret,
              client_secret.get_secret_value() if client_secret else None,
              *settings.webhook_secrets, *url_passwords(settings.broker_url_set)]
    return [value for value in values if value]


class MaskingFilter(logging.Filter):
    """Masks personal data and secrets in the message (arguments merged in first) and adds
    the context ids and the process name to the record. Attach it to handlers."""

    def __init__(self, process_name: str, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.process_name = process_name
        self.secrets = tuple(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad %-format must not lose the line
            message = f"{record.msg} {record.args}"
        record.msg = escape_controls(scrub_text(message, self.secrets))
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = escape_controls(scrub_text(record.exc_text, self.secrets),
                                              keep_newlines=True)
        record.process_name = self.process_name
        for name, value in _context.get().items():
            if not getattr(record, name, None):
                setattr(record, name, value)
        return True


DRAMATIQ_CONSUMER = "dramatiq.worker.ConsumerThread"
CONSUMER_CONNECTION_ERROR = "Consumer encountered a connection error"
CONSUMER_RESTARTING = "Restarting consumer in"


class BrokerOutageFilter(logging.Filter):
    """A broker outage in a Dramatiq worker, logged once and its end once.

    Dramatiq's consumer threads log a CRITICAL line and "Restarting consumer in 3.00
    seconds." every 3 s for each queue while the broker (its Redis, or RabbitMQ) is down
    (they keep that fixed, cheap, retry). The first such line becomes
    :class:`RedisOutage`'s warning, the others are dropped; a probe thread asks the broker
    of ``redis_url`` (``SYNC_BROKER_URL``, else ``REDIS_URL``) with growing waits (0.5 s
    doubling up to 10 s) and logs the end once when it answers."""

    def __init__(self, process_name: str, redis_url: str | None) -> None:
        super().__init__()
        self.redis_url = redis_url
        rabbitmq = is_rabbitmq_url(redis_url)
        if redis_url and rabbitmq:
            from shared.telemetry.rabbitmq_stats import rabbitmq_address  # pika: a worker's

            address = rabbitmq_address(redis_url)
        else:
            address = redis_address(redis_url) if redis_url else "?"
        self.outage = RedisOutage(process_name, address,
                                  logging.getLogger("workers.runtime.broker"),
                                  service="RabbitMQ" if rabbitmq else "Redis")
        self._probe: threading.Thread | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(DRAMATIQ_CONSUMER) or not isinstance(record.msg, str):
            return True
        if record.msg.startswith(CONSUMER_CONNECTION_ERROR):
            cause = record.args[0] if isinstance(record.args, tuple) and record.args else ""
            self.outage.failed(str(cause))
            self._start_probe()
            return False
        return not (record.msg.startswith(CONSUMER_RESTARTING) and self.outage.down)

    def _start_probe(self) -> None:
        if self.redis_url is None or (self._probe is not None and self._probe.is_alive()):
            return
        self._probe = threading.Thread(target=self._wait_for_redis, args=(self.redis_url,),
                                       name="redis-outage-probe", daemon=True)
        self._probe.start()

    def _wait_for_redis(self, url: str) -> None:
        answers, close = _broker_probe(url)
        wait = self.outage.first_wait
        while self.outage.down:
            time.sleep(wait)
            wait = min(self.outage.max_wait, wait * 2)
            if answers():
                self.outage.recovered()
        close()


def _broker_probe(url: str) -> tuple[Callable[[], bool], Callable[[], None]]:
    """(whether the broker at ``url`` answers now, what frees the probe's connection)."""
    if is_rabbitmq_url(url):
        from shared.telemetry.rabbitmq_stats import rabbitmq_answers  # pika: a worker's

        return (lambda: rabbitmq_answers(url)), (lambda: None)
    client = connect(url)

    def pings() -> bool:
        try:
            client.ping()
        except redis.RedisError:  # still down: try again later
            return False
        return True

    return pings, client.close


def _ids(record: logging.LogRecord) -> dict[str, str]:
    return {name: escape_controls(str(getattr(record, name))) for name in CONTEXT_FIELDS
            if getattr(record, name, None) not in (None, "")}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "process": getattr(record, "process_name", ""),
            "logger": record.name,
            "message": record.getMessage(),
            **_ids(record),
        }
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``2026-11-22 10:00:00,123 INFO worker workers.x [account=acme batch_id=b-1] text``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(process_name)s %(name)s%(ids)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        ids = _ids(record)
        record.ids = " [" + " ".join(f"{k}={v}" for k, v in ids.items()) + "]" if ids else ""
        exc_text = record.exc_text  # already formatted (and masked) by MaskingFilter
        if exc_text:
            record.exc_text = self._indented(exc_text)
        try:
            return super().format(record)
        finally:
            record.exc_text = exc_text

    def formatException(self, ei: Any) -> str:
        return self._indented(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return self._indented(escape_controls(stack_info, keep_newlines=True))

    @staticmethod
    def _indented(text: str) -> str:
        return "\n".join(TRACEBACK_INDENT + line for line in text.splitlines())


def _broker_or_state(settings: Settings) -> str | None:
    try:
        return broker_url(settings)
    except (BrokerNotConfigured, ValueError):  # the process says so itself at start
        return settings.redis_url


def configure_logging(
    settings: Settings,
    process_name: str,
    *,
    stream: IO[str] | None = None,
    level: int = logging.INFO,
) -> logging.Handler:
    """Replace the root logger's handlers with one that masks and formats as configured
    (``SYNC_LOG_FORMAT``). Returns the handler."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.addFilter(BrokerOutageFilter(process_name, _broker_or_state(settings)))
    handler.addFilter(MaskingFilter(process_name, secrets_of(settings)))
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
