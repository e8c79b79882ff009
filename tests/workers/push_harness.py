"""Helpers of the push-pipeline tests: contacts written as the collector writes them, a real
Dramatiq RedisBroker with an in-process Worker, and a Klaviyo account in the sandbox."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import dramatiq
import redis
from cryptography.fernet import Fernet

from shared import constants as keys
from shared.accounts import AccountStore
from shared.events import Contact, MirroredContact
from shared.klaviyo.client import build_client
from shared.settings import get_settings
from tests.workers.dramatiq_harness import wait_for
from workers.actors import chunk, lists  # noqa: F401  (every actor declared, as in a worker)
from workers.actors.batch import sync_batch
from workers.batch_lifecycle import batch_info, start_batch
from workers.broker import setup_broker

BULK = ("import", "resync")


def prepare_env(monkeypatch: Any, redis_url: str, sandbox_url: str) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("SYNC_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("KLAVIYO_BASE_URL", sandbox_url)
    get_settings.cache_clear()


@contextmanager
def push_worker(redis_url: str, threads: int = 4) -> Iterator[dramatiq.Worker]:
    broker = setup_broker(redis_url, get_settings().broker_url_set)  # the queues' own Redis
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=50)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
        get_settings.cache_clear()


class PushAccount:
    """One CRM account linked to a fresh sandbox Klaviyo account."""

    def __init__(self, r: redis.Redis, sandbox: Any, **options: Any) -> None:
        self.r = r
        self.sandbox = sandbox
        self.key = sandbox.new_key()
        self.name = f"acct-{uuid.uuid4().hex[:8]}"
        self.api = build_client(self.key, sandbox.url)
        self.store = AccountStore(r, get_settings())
        self.store.add(self.name, self.key, klaviyo_base_url=sandbox.url, **options)
        self.clock = 1_800_000_000.0

    def set(self, **changes: Any) -> None:
        self.store.set(self.name, **changes)

    def create_list(self, name: str = "Newsletter") -> str:
        body = {"data": {"type": "list", "attributes": {"name": name}}}
        answer: Any = self.api.Lists.create_list(body)
        return str(answer["data"]["id"])

    def change(self, cid: str, origin: str = "webhook", deleted: bool = False,
               **fields: Any) -> None:
        """A contact change as the collector stores it (mirror + pending)."""
        self.clock += 1
        fields.setdefault("email", f"{cid.lower()}@example.com")
        mirrored = MirroredContact(
            event_id=f"e-{uuid.uuid4().hex[:6]}", deleted=deleted, origin=origin,  # type: ignore[arg-type]
            occurred_at=datetime.fromtimestamp(self.clock, UTC),
            contact=Contact(id=cid, **fields))
        pipe = self.r.pipeline()
        pipe.set(keys.contact(self.name, cid), mirrored.model_dump_json())
        pipe.zadd(keys.contact_times(self.name), {cid: self.clock})
        pipe.zadd(keys.pending(self.name), {cid: self.clock})
        if origin in BULK:
            pipe.zadd(keys.pending_bulk(self.name), {cid: self.clock})
        else:
            pipe.zrem(keys.pending_bulk(self.name), cid)
        pipe.execute()

    def sync(self, timeout: float = 60.0) -> dict[str, Any]:
        """Start a batch, send sync_batch, wait until completed; the batch info."""
        batch_id = f"b-{uuid.uuid4().hex[:8]}"
        assert start_batch(self.r, self.name, batch_id, time.time()) > 0
        sync_batch.send(self.name, batch_id)
        wait_for(lambda: batch_info(self.r, self.name, batch_id).get("status") == "completed",
                 timeout=timeout)
        info = batch_info(self.r, self.name, batch_id)
        info["details"] = self.r.hgetall(keys.batch_details(self.name, batch_id))
        return info

    # --- what Klaviyo holds -------------------------------------------------------------
    def profiles(self) -> list[dict[str, Any]]:
        """Every profile of the sandbox account, with ``subscriptions`` and ``lists``."""
        return list(self.sandbox.profiles(self.key))

    def by_email(self) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for profile in self.profiles():
            email = profile.get("email")
            assert email not in found, f"duplicate profile for {email}"
            found[email] = profile
        return found
