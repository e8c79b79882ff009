"""Real webhook servers (uvicorn in a thread, on a free port) and signed requests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import redis
import uvicorn

from producers.signature import sign
from producers.webhook import EVENTS_PATH, create_app
from shared import constants as keys
from shared.redis_server import free_port
from shared.settings import Settings
from tests.support.accounts import TEST_ACCOUNT, accounts_of, configure_accounts

SECRET = "whsec-test-current"
OLD_SECRET = "whsec-test-previous"


@dataclass
class Webhook:
    base_url: str
    http: httpx.Client
    metrics_url: str
    redis_url: str

    def post(self, body: bytes, secret: str | None = SECRET, timestamp: int | None = None,
             headers: dict[str, str] | None = None) -> httpx.Response:
        sent = dict(headers or {})
        if secret is not None:
            sent["X-Sync-Signature"] = sign(secret, body, timestamp)
        sent.setdefault("Content-Type", "application/json")
        return self.http.post(EVENTS_PATH, content=body, headers=sent)

    def post_events(self, events: list[dict[str, Any]], *, configure: bool = True,
                    **options: Any) -> httpx.Response:
        """Post ``events`` signed; their accounts are created first unless ``configure``
        is false (the webhook refuses events for accounts not configured)."""
        if configure:
            self.configure_accounts(*accounts_of(events))
        return self.post(orjson.dumps({"events": events}), **options)

    def configure_accounts(self, *names: str) -> None:
        with redis.Redis.from_url(self.redis_url) as client:
            configure_accounts(client, *names)


@contextmanager
def running_webhook(redis_url: str, secrets: str = f"{SECRET},{OLD_SECRET}",
                    env: dict[str, str] | None = None) -> Iterator[Webhook]:
    """The webhook app served by uvicorn in a thread (``env``: more settings); stopped on
    exit."""
    env = {"SYNC_METRICS_PORT": str(free_port()), **(env or {})}
    settings = Settings(REDIS_URL=redis_url, SYNC_WEBHOOK_SECRET=secrets,
                        **env)  # type: ignore[arg-type]
    port = free_port()
    app = create_app(settings, tune_process_gc=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the webhook did not start")
        time.sleep(0.02)
    base_url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base_url, timeout=30) as http:
            yield Webhook(base_url, http,
                          f"http://127.0.0.1:{env['SYNC_METRICS_PORT']}/metrics", redis_url)
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def event(n: int, account: str = TEST_ACCOUNT, **contact: Any) -> dict[str, Any]:
    """One valid event as the CRM sends it (the contract's example, numbered)."""
    return {
        "event_id": f"evt-{n}", "account_id": account, "type": "contact.upserted",
        "occurred_at": "2026-11-22T10:00:00Z",
        "contact": {"id": f"C-{n}", "email": f"person{n}@example.com", "first_name": "Ann",
                    "last_name": "Lee", "phone": "+447700900123", "job_title": "Buyer",
                    "role": "Decision Maker",
                    "company": {"id": "CO-9", "name": "Acme Ltd", "type": "Customer"},
                    "marketing": "subscribed", "properties": {"region": "North"},
                    **contact},
    }


def stream_entries(client: redis.Redis) -> list[dict[str, str]]:
    """The fields of every entry on the events stream, oldest first (decoded client)."""
    return [dict(fields) for _id, fields in client.xrange(keys.EVENTS_STREAM)]  # type: ignore[union-attr]
