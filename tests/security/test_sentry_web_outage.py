"""Regression (issue 11, item 2): a web-side error reaches Sentry without personal data.

A real ``contact-sync web`` process with ``SENTRY_DSN`` pointing at a local ingest endpoint
takes a signed POST while its Redis is stopped: the 503 is logged as an error, which is a
Sentry event. Before the fix that event carried the webhook's ``EVALSHA`` with the batch
(names, email, phone) in its Redis breadcrumb, and the request headers with
``x-sync-signature``.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import orjson
import pytest
import redis

from producers.signature import sign
from shared.redis_server import EmbeddedRedis
from tests.security.web_process import running_web
from tests.support.accounts import configure_accounts
from tests.support.sentry_envelopes import Envelopes

SECRET = f"whsec-{secrets.token_hex(8)}"
# Made at run time: literals would sit in source lines that a stack frame's context carries.
FIRST_NAME = f"Ottoline{secrets.token_hex(3)}"
LAST_NAME = f"Quillfeather{secrets.token_hex(3)}"
EMAIL = f"ottoline.{secrets.token_hex(3)}@example.com"
PHONE = "+44 20 7946 0958"


def _wait(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture
def web_on_a_stoppable_redis(envelopes: Envelopes, tmp_path: Path) -> Iterator[
        tuple[int, EmbeddedRedis, Path]]:
    """A ``contact-sync web`` on its own redis-server (the test stops it), reporting to
    ``envelopes``; yields (port, redis, log file)."""
    server = EmbeddedRedis().start()
    with redis.Redis.from_url(server.url) as client:
        configure_accounts(client, "acme")
    log = tmp_path / "web.log"
    env = {"REDIS_URL": server.url, "SYNC_WEBHOOK_SECRET": SECRET, "SENTRY_DSN": envelopes.dsn}
    try:
        with running_web(env, log) as port:
            yield port, server, log
    finally:
        server.stop()


def _post(port: int, event_id: str) -> httpx.Response:
    body = orjson.dumps({"events": [{
        "event_id": event_id, "account_id": "acme", "type": "contact.upserted",
        "occurred_at": "2026-11-22T10:00:00Z",
        "contact": {"id": "C-1", "email": EMAIL, "phone": PHONE, "first_name": FIRST_NAME,
                    "last_name": LAST_NAME}}]})
    return httpx.post(f"http://127.0.0.1:{port}/v1/contact-events", content=body, timeout=30,
                      headers={"X-Sync-Signature": sign(SECRET, body),
                               "Content-Type": "application/json"})


def test_a_web_error_while_redis_is_down_reaches_sentry_without_names_contacts_or_signature(
    envelopes: Envelopes, web_on_a_stoppable_redis: tuple[int, EmbeddedRedis, Path],
) -> None:
    port, server, log = web_on_a_stoppable_redis
    assert _post(port, "evt-up").status_code == 202  # the script is loaded; Redis commands ran
    server.stop()
    signature_sent = _post(port, "evt-down")
    assert signature_sent.status_code == 503
    _wait(lambda: "Redis unreachable" in envelopes.text(), "the Sentry event")
    text = envelopes.text()
    assert '"process":"web"' in text.replace(" ", ""), text[:2000]
    for leaked in (FIRST_NAME, LAST_NAME, EMAIL, EMAIL.split("@")[0], PHONE,
                   PHONE.replace(" ", ""), "7946", SECRET, "v1="):
        assert leaked not in text, f"{leaked!r} reached Sentry: {text[:3000]}"
    assert "x-sync-signature" not in text.lower(), text[:3000]
    assert "Traceback" not in log.read_text()
