"""A running contact-sync (the Procfile's real processes) and what end-to-end tests do with it.

:class:`Pipeline` wraps a started :class:`ProcessStack` with the steps a user takes: add or
change an account through the real ``contact-sync accounts`` command, post signed events,
wait until everything sent so far has been synced, read the batches' stored reports and the
sandbox's profiles and lists.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
from klaviyo_api import KlaviyoAPI

from cli.procfile import PROJECT_ROOT
from sandbox.app import ASGIApp
from sandbox.inspect_client import SandboxClient
from sandbox.server import SandboxServer
from shared import constants as keys
from shared import ingest_shards
from shared.redis_client import connect
from shared.redis_cluster_server import EmbeddedRedisCluster, cluster_shape
from shared.redis_server import EmbeddedRedis
from tests.support.process_stack import ProcessStack, contact_event, wait_until
from workers.push.lifecycle import batch_info, recent_batches

PROCESSES = ("web", "collector", "scheduler", "worker")
SETTLE_TIMEOUT_S = 90.0
BASE_TIME = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def at(second: int) -> str:
    """An ``occurred_at`` ``second`` seconds after a fixed base time (ISO, UTC)."""
    return (BASE_TIME + timedelta(seconds=second)).isoformat().replace("+00:00", "Z")


def start_all(stack: ProcessStack, *, workers: int = 1) -> None:
    """Start web, collector, scheduler and ``workers`` worker processes."""
    for name in PROCESSES:
        stack.start(name, workers if name == "worker" else 1)


@dataclass
class Account:
    """A CRM account of the sync and its own Klaviyo (sandbox) account."""

    name: str
    key: str
    seen_batches: set[str] = field(default_factory=set)


class Pipeline:
    """A started stack plus the sandbox it talks to."""

    def __init__(self, stack: ProcessStack, sandbox: SandboxClient) -> None:
        self.stack = stack
        self.sandbox = sandbox
        self.r: redis.Redis = connect(stack.redis_url)
        self.cluster: EmbeddedRedisCluster | None = None
        """The Redis Cluster of the state, when the pipeline runs on one."""

    # --- the user's commands ----------------------------------------------------------------
    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``contact-sync ARGS`` with the processes' environment."""
        done = subprocess.run(["contact-sync", *args], cwd=PROJECT_ROOT, env=self.stack.env,
                              capture_output=True, text=True, timeout=120)
        if check and done.returncode != 0:
            raise AssertionError(f"contact-sync {' '.join(args[:2])} exited "
                                 f"{done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done

    def add_account(self, *options: str) -> Account:
        """``contact-sync accounts add`` with a fresh sandbox account's key."""
        account = Account(f"acct-{uuid.uuid4().hex[:10]}", self.sandbox.new_key())
        self.cli("accounts", "add", account.name, "--klaviyo-key", account.key, *options)
        return account

    def set_account(self, account: Account, *options: str) -> None:
        """``contact-sync accounts set`` (a runtime change)."""
        self.cli("accounts", "set", account.name, *options)

    def klaviyo(self, account: Account) -> KlaviyoAPI:
        return KlaviyoAPI(account.key, max_delay=2, max_retries=3, test_host=self.sandbox.url)

    def create_list(self, account: Account, name: str) -> str:
        body = {"data": {"type": "list", "attributes": {"name": name}}}
        answer: Any = self.klaviyo(account).Lists.create_list(body)
        return str(answer.data.id)

    # --- the CRM ----------------------------------------------------------------------------
    def post(self, events: list[dict[str, Any]]) -> None:
        """Post signed events; they must be accepted."""
        answer = self.stack.post_events(events)
        assert answer.status_code == 202, answer.text
        assert answer.json() == {"accepted": len(events)}

    def upsert(self, account: Account, contact_id: str, second: int,
               **fields: Any) -> dict[str, Any]:
        """A ``contact.upserted`` event; email defaults to ``<id>@example.com``."""
        fields.setdefault("email", f"{contact_id.lower()}@example.com")
        return contact_event(account.name, contact_id, at(second), **fields)

    @staticmethod
    def delete(account: Account, contact_id: str, second: int) -> dict[str, Any]:
        return contact_event(account.name, contact_id, at(second),
                             event_type="contact.deleted")

    # --- waiting ----------------------------------------------------------------------------
    def _stream_consumed(self) -> bool:
        shards = int(self.stack.env.get("SYNC_INGEST_SHARDS") or 1)
        return all(self._consumed(name) for name in ingest_shards.streams(shards))

    def _consumed(self, name: str) -> bool:
        if not self.r.exists(name):
            return True
        stream: Any = self.r.xinfo_stream(name)
        groups: Any = self.r.xinfo_groups(name)
        return any(g["name"] == keys.COLLECTOR_GROUP and g["pending"] == 0
                   and g["last-delivered-id"] == stream["last-generated-id"] for g in groups)

    def idle(self, account: Account) -> bool:
        """Every event posted so far is applied and every change of the account is in a
        finished batch (none pending, none running)."""
        if not self._stream_consumed():
            return False
        with self.r.pipeline(transaction=True) as pipe:
            pipe.zcard(keys.pending(account.name))
            pipe.hget(keys.state(account.name), "running")
            pending, running = pipe.execute()
        return int(pending) == 0 and not running

    def settle(self, account: Account, timeout: float = SETTLE_TIMEOUT_S) -> list[dict[str, Any]]:
        """Wait until the account is idle; returns the batches finished since the last call
        (oldest first). A failed batch fails the test with its stored error."""
        try:
            wait_until(lambda: self.idle(account), timeout, f"account {account.name} to settle")
        except TimeoutError as error:  # the worker's output when it timed out, not before
            raise TimeoutError(f"{error} (worker output: "
                               f"{self.stack.output('worker')[-3000:]!r})") from None
        new = [b for b in reversed(recent_batches(self.r, account.name, limit=50))
               if b["batch_id"] not in account.seen_batches]
        account.seen_batches.update(b["batch_id"] for b in new)
        failed = [b for b in new if b["status"] != "completed"]
        assert not failed, f"batches not completed: {failed}"
        return new

    def sync(self, account: Account, events: list[dict[str, Any]]) -> dict[str, int]:
        """Post ``events`` and wait until they are synced; the summed report of the batches
        that ran meanwhile."""
        self.post(events)
        return summed(self.settle(account))

    # --- looking ----------------------------------------------------------------------------
    def profiles(self, account: Account) -> dict[str, dict[str, Any]]:
        """The account's Klaviyo profiles by email."""
        found = self.sandbox.profiles(account.key)
        by_email = {p["email"]: p for p in found}
        assert len(by_email) == len(found), f"duplicate profiles: {found}"
        return by_email

    def members(self, account: Account, list_id: str) -> set[str]:
        """Emails of the list's members."""
        ids = {m["profile_id"] for lst in self.sandbox.lists(account.key) if lst["id"] == list_id
               for m in lst["members"]}
        return {p["email"] for p in self.sandbox.profiles(account.key) if p["id"] in ids}

    def details(self, account: Account, batch: dict[str, Any]) -> dict[str, dict[str, str]]:
        """contact id -> {outcome, reason} of the batch's contacts that were not sent."""
        raw: dict[str, str] = self.r.hgetall(  # type: ignore[assignment]
            keys.batch_details(account.name, batch["batch_id"]))
        return {cid: json.loads(value) for cid, value in raw.items()}

    def batch(self, account: Account, batch_id: str) -> dict[str, Any]:
        return batch_info(self.r, account.name, batch_id)

    def account_state(self, account: Account) -> dict[str, Any]:
        """Every Redis value of the account, dumped (a test may scan; the service does not)."""
        found = sorted(self.r.scan_iter(match=keys.account_key(account.name, "*")))
        return {key: self.r.dump(key) for key in found}

    def pull_settled(self, account: Account) -> bool:
        """The account's first reverse pull (made due by its first sync) has ended: the next
        comes only ``SYNC_LIST_PULL_INTERVAL`` (15 minutes) later, so it cannot write the
        account's pull state and consent ledger while a test compares them."""
        state = self.r.hgetall(keys.pull_state(account.name))
        return "pull_ended_at" in state and "pull_running_since" not in state

    def close(self) -> None:
        self.r.close()


def summed(batches: list[dict[str, Any]]) -> dict[str, int]:
    """The report counts of several batches added up (zeros left out)."""
    total: dict[str, int] = {}
    for batch in batches:
        for name, value in batch.get("report", {}).items():
            total[name] = total.get(name, 0) + int(value)
    return {name: value for name, value in total.items() if value}


STATE_SHAPES = ("redis", "cluster")
"""Where a pipeline keeps its state: ``redis`` (one redis-server, the queues beside the
state) or ``cluster`` (a local Redis Cluster of 3 masters + 3 replicas, the Dramatiq queues
on a redis-server of their own through ``SYNC_BROKER_URL``, the intake in 3 shards). A
third shape, ``rabbitmq`` (one redis-server for the state, the queues on RabbitMQ:
``SYNC_BROKER_URL=amqp://...``), needs the test process's RabbitMQ node
(tests/support/rabbitmq.py), so tests/e2e/conftest.py passes its URL as ``broker_url``."""


@contextmanager
def state_redis(shape: str, broker_url: str | None = None
                ) -> Iterator[tuple[str, dict[str, str], EmbeddedRedisCluster | None]]:
    """The REDIS_URL of a fresh state store of ``shape``, the environment it needs, and the
    cluster (to kill a master) when it is one."""
    if shape == "cluster":
        with cluster_shape() as (cluster, env):
            yield cluster.url, env, cluster
    else:
        assert (shape == "rabbitmq") == bool(broker_url), "a RabbitMQ URL for rabbitmq only"
        with EmbeddedRedis() as server:
            yield server.url, {"SYNC_BROKER_URL": broker_url} if broker_url else {}, None


@contextmanager
def running_pipeline(workdir: Path, middleware: Callable[[ASGIApp], ASGIApp],
                     env: dict[str, str] | None = None, shape: str = "redis",
                     broker_url: str | None = None) -> Iterator[Pipeline]:
    """A whole contact-sync (the Procfile's processes) on its own state store of ``shape``
    (:data:`STATE_SHAPES`; ``rabbitmq`` with ``broker_url``) and sandbox (rate limits off,
    jobs asynchronous), with ``env`` added to the processes' environment; the sandbox's
    exchanges pass through ``middleware`` (the OpenAPI contract check)."""
    with state_redis(shape, broker_url) as (redis_url, shape_env, cluster), \
            SandboxServer(rate_limits="off", middleware=(middleware,)) as sandbox_srv, \
            SandboxClient(sandbox_srv.url) as sandbox:
        sandbox.set_jobs("async", 0)
        sandbox.key = sandbox.new_key()
        with ProcessStack(redis_url, sandbox.url, sandbox.key, workdir,
                          env={**shape_env, **(env or {})}) as stack:
            start_all(stack)
            pipeline = Pipeline(stack, sandbox)
            pipeline.cluster = cluster
            try:
                yield pipeline
            finally:
                pipeline.close()
