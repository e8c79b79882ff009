"""JSON log lines carry account and batch ids; emails, phones and keys never appear."""

from __future__ import annotations

import io
import json
import logging

import pytest

from shared.redis_server import free_port
from shared.settings import Settings
from shared.telemetry.logs import configure_logging, log_context


def _settings(**env: str) -> Settings:
    return Settings.model_validate(env)


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_format_gives_one_object_a_line_with_account_and_batch_ids(
    restore_root_logging: None,
) -> None:
    stream = io.StringIO()
    configure_logging(_settings(SYNC_LOG_FORMAT="json"), "worker", stream=stream)
    log = logging.getLogger("workers.test")
    log.info("batch started with %d contacts", 12, extra={"account": "acme", "batch_id": "b-1"})
    with log_context(account="globex", batch_id="b-2"):
        log.warning("chunk slow")
    log.info("no ids here")
    first, second, third = _lines(stream)
    assert first["message"] == "batch started with 12 contacts"
    assert (first["account"], first["batch_id"]) == ("acme", "b-1")
    assert first["level"] == "INFO" and first["process"] == "worker"
    assert first["logger"] == "workers.test" and str(first["time"]).endswith("Z")
    assert (second["account"], second["batch_id"], second["level"]) == ("globex", "b-2",
                                                                       "WARNING")
    assert "account" not in third


def test_emails_phones_and_keys_are_masked_in_messages_and_tracebacks(
        restore_root_logging: None) -> None:
    stream = io.StringIO()
    settings = _settings(SYNC_LOG_FORMAT="json", KLAVIYO_API_KEY="pk_live_secret_value_1234",
                         SYNC_WEBHOOK_SECRET="whsec-very-secret")
    configure_logging(settings, "web", stream=stream)
    log = logging.getLogger("producers.test")
    log.info("contact %s changed phone to %s", "ann.lee@example.com", "+447700900123")
    try:
        raise ValueError("bad key pk_live_secret_value_1234 for bob@example.org, whsec-very-secret")
    except ValueError:
        log.exception("import failed")
    text = stream.getvalue()
    for secret in ("ann.lee@example.com", "+447700900123", "pk_live_secret_value_1234",
                   "bob@example.org", "whsec-very-secret"):
        assert secret not in text
    first, second = _lines(stream)
    assert first["message"] == "contact a***@example.com changed phone to +***"
    assert "ValueError: bad key *** for b***@example.org, ***" in str(second["exception"])


def test_text_format_shows_the_ids_and_masks_too(restore_root_logging: None) -> None:
    stream = io.StringIO()
    configure_logging(_settings(), "scheduler", stream=stream)
    with log_context(account="acme"):
        logging.getLogger("workers.scheduler").info("due: ann@example.com")
    line = stream.getvalue().strip()
    assert line.endswith("INFO scheduler workers.scheduler [account=acme] due: a***@example.com")


def test_log_context_refuses_unknown_fields() -> None:
    with pytest.raises(ValueError, match="email"), log_context(email="x"):
        pass


FORGED = "e-1\r\n2026-11-22 10:00:00,000 INFO web producers.intake forged\x1b[2J\u2028x"


def test_control_characters_in_a_message_or_an_id_stay_on_one_text_line(
        restore_root_logging: None) -> None:
    stream = io.StringIO()
    configure_logging(_settings(), "web", stream=stream)
    log = logging.getLogger("producers.intake")
    log.info("accepted 1 events (%s .. %s)", FORGED, "e-2", extra={"event_id": FORGED})
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].endswith(
        r"[event_id=e-1\r\n2026-11-22 10:00:00,000 INFO web producers.intake forged\x1b[2J"
        r"\u2028x] accepted 1 events (e-1\r\n2026-11-22 10:00:00,000 INFO web "
        r"producers.intake forged\x1b[2J\u2028x .. e-2)")


def test_a_traceback_keeps_its_lines_indented_and_its_message_cannot_forge_a_record(
    restore_root_logging: None,
) -> None:
    stream = io.StringIO()
    configure_logging(_settings(), "worker", stream=stream)
    try:
        raise ValueError(f"bad id {FORGED}\nINFO forged too")
    except ValueError:
        logging.getLogger("workers.test").exception("chunk failed")
    first, *rest = stream.getvalue().splitlines()
    assert first.endswith("ERROR worker workers.test chunk failed")
    assert rest[0] == "    Traceback (most recent call last):"
    assert all(line.startswith("    ") for line in rest), rest
    assert "    ValueError: bad id e-1\\r" in rest
    assert "    INFO forged too" in rest


def test_json_lines_stay_valid_json_with_control_characters(restore_root_logging: None) -> None:
    stream = io.StringIO()
    configure_logging(_settings(SYNC_LOG_FORMAT="json"), "web", stream=stream)
    logging.getLogger("producers.intake").warning("refused %s", FORGED,
                                                   extra={"event_id": FORGED})
    (line,) = _lines(stream)
    assert line["message"] == "refused " + FORGED.encode("unicode_escape").decode()
    assert line["event_id"] == line["message"].removeprefix("refused ")


def test_a_worker_whose_rabbitmq_is_down_logs_it_once_by_address_never_its_password(
        restore_root_logging: None) -> None:
    port = free_port()  # nothing answers there
    url = f"amqp://sync:rabbit-pw-123456@127.0.0.1:{port}/sync"
    stream = io.StringIO()
    configure_logging(_settings(SYNC_LOG_FORMAT="json", REDIS_URL="redis://127.0.0.1:6379/0",
                                SYNC_BROKER_URL=url), "worker", stream=stream)
    consumer = logging.getLogger("dramatiq.worker.ConsumerThread(default)")
    for _ in range(3):  # what Dramatiq's consumer threads log every 3 s meanwhile
        consumer.critical("Consumer encountered a connection error: %s",
                          ConnectionError(f"cannot reach {url}"))
        consumer.info("Restarting consumer in %0.2f seconds.", 3)
    logging.getLogger("workers.test").info("broker %s", url)
    first, last = (str(line["message"]) for line in _lines(stream))
    assert first.startswith(f"worker: RabbitMQ at 127.0.0.1:{port} is unreachable (")
    assert first.endswith("retrying with growing waits (up to 10 s), and logging once when "
                          "it is back")
    assert last.startswith("broker amqp://sync:")
    assert "rabbit-pw-123456" not in stream.getvalue()
