"""One demo run against running processes: prepare Klaviyo, send the waves, wait, check.

Runs beside the supervisor (honcho owns the main thread); it talks to the processes the way
the outside world does: the CRM's signed HTTP POSTs to ``web``, the SDK to the sandbox, and
Redis only to watch progress (pending contacts, batches). ``stop`` (Ctrl-C, or a process
that died) ends every wait at once with :class:`Interrupted`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import redis
from klaviyo_api import KlaviyoAPI
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from cli.demo import klaviyo_state
from cli.demo.expectations import Expected
from cli.demo.feed import ACCOUNT, Feed
from cli.demo.report import RunFacts
from producers.signature import HEADER, sign
from shared import constants as keys
from shared.accounts import AccountStore
from shared.redis_client import connect
from shared.settings import Settings
from shared.state.batch_record import BatchStatus, read_batch
from workers.push import lifecycle

REQUEST_EVENTS = 1000
"""Events per webhook request (the contract's maximum)."""
POLL_SECONDS = 0.25
LIST_NAME = "Newsletter (contact-sync demo default list)"


class Interrupted(Exception):
    """The run was stopped (Ctrl-C, or a process stopped)."""


class DemoError(Exception):
    """Something the demo needs did not work; the message says what."""


@dataclass
class Endpoints:
    web_url: str
    klaviyo_url: str
    klaviyo_key: str
    redis_url: str
    secret: str

    @classmethod
    def of(cls, env: Mapping[str, str]) -> Endpoints:
        return cls(f"http://127.0.0.1:{env['PORT']}", env["KLAVIYO_BASE_URL"],
                   env["KLAVIYO_API_KEY"], env["REDIS_URL"],
                   env["SYNC_WEBHOOK_SECRET"].split(",")[0].strip())


class Driver:
    def __init__(self, endpoints: Endpoints, env: Mapping[str, str], console: Console,
                 stop: threading.Event) -> None:
        self.at = endpoints
        self.env = env
        self.console = console
        self.stop = stop
        self.http = httpx.Client(timeout=30)
        self.redis = connect(endpoints.redis_url)
        self.api: KlaviyoAPI = klaviyo_state.client(endpoints.klaviyo_key, endpoints.klaviyo_url)
        self.list_id = ""

    def close(self) -> None:
        self.http.close()
        self.redis.close()

    # --- waiting ---------------------------------------------------------------------------
    def wait(self, condition: Callable[[], bool], timeout: float, what: str,
             tick: Callable[[], None] | None = None) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.stop.is_set():
                raise Interrupted(what)
            if tick is not None:
                tick()
            if condition():
                return
            if time.monotonic() > deadline:
                raise DemoError(f"gave up after {timeout:.0f} s waiting for {what}")
            self.stop.wait(POLL_SECONDS)

    def _answers(self, probe: Callable[[], object]) -> bool:
        try:
            probe()
            return True
        except Exception:  # not up yet, whatever the error
            return False

    def wait_until_up(self) -> None:
        self.wait(lambda: self._answers(lambda: self.http.get(
            f"{self.at.web_url}/readyz").raise_for_status()), 90, "the web process")
        self.wait(lambda: self._answers(lambda: self.api.Lists.get_lists()), 60,
                  "the Klaviyo sandbox")

    # --- before the feed -----------------------------------------------------------------
    def prepare(self, feed: Feed, facts: RunFacts) -> None:
        """The default list (set on the account at runtime) and the pre-existing profiles."""
        self.list_id = klaviyo_state.create_list(self.api, LIST_NAME)
        names = ("REDIS_URL", "KLAVIYO_API_KEY", "KLAVIYO_BASE_URL", "SYNC_CONTACT_ROLES",
                 "SYNC_COMPANY_TYPES", "SYNC_INTERVAL")
        settings = Settings.model_validate({name: self.env[name] for name in names})
        AccountStore(self.redis, settings).set(ACCOUNT, default_list_id=self.list_id)
        for seed in feed.preexisting:
            if self.stop.is_set():
                raise Interrupted("creating profiles")
            profile_id = klaviyo_state.create_profile(self.api, seed.email, seed.first_name)
            facts.preexisting_ids[seed.email.strip().lower()] = profile_id

    # --- the CRM's side ------------------------------------------------------------------
    def post(self, events: list[dict[str, Any]]) -> None:
        body = orjson.dumps({"events": events})
        for _attempt in range(10):
            answer = self.http.post(f"{self.at.web_url}/v1/contact-events", content=body,
                                    headers={HEADER: sign(self.at.secret, body),
                                             "Content-Type": "application/json"})
            if answer.status_code == 202:
                return
            if answer.status_code != 503:
                raise DemoError(f"the webhook answered {answer.status_code}: {answer.text[:300]}")
            self.stop.wait(float(answer.headers.get("Retry-After", "1")))
        raise DemoError("the webhook kept answering 503 (Redis unreachable)")

    # --- watching the sync ---------------------------------------------------------------
    def all_collected(self) -> bool:
        """Every event posted so far is applied and acknowledged by the collector."""
        try:
            stream: Any = self.redis.xinfo_stream(keys.EVENTS_STREAM)
            groups: Any = self.redis.xinfo_groups(keys.EVENTS_STREAM)
        except redis.ResponseError:
            return False
        group = next((g for g in groups if g["name"] == keys.COLLECTOR_GROUP), None)
        return group is not None and int(group["pending"]) == 0 and (
            group["last-delivered-id"] == stream["last-generated-id"])

    def outstanding(self) -> tuple[int, str | None]:
        """(pending contacts, running batch id), read together."""
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.zcard(keys.pending(ACCOUNT))
            pipe.hget(keys.state(ACCOUNT), "running")
            pending, running = pipe.execute()
        return int(pending), running or None

    def batches(self) -> list[dict[str, Any]]:
        """The account's batches, oldest first."""
        return list(reversed(lifecycle.recent_batches(self.redis, ACCOUNT,
                                                      lifecycle.BATCHES_KEPT)))

    def completed(self) -> int:
        return sum(1 for batch in self.batches() if batch.get("status") == BatchStatus.COMPLETED)

    def synced(self, completed_before: int) -> bool:
        if not self.all_collected():
            return False
        pending, running = self.outstanding()
        return pending == 0 and running is None and self.completed() > completed_before

    def status_line(self, interval: float) -> str:
        pending, running = self.outstanding()
        if running:
            batch = read_batch(self.redis, ACCOUNT, running)
            if batch is None:
                return f"batch {running} ending"
            chunks = f"chunks {batch.chunks_done}/{batch.chunks_total or '?'}"
            return f"batch {running} running ({batch.size} contacts, {chunks})"
        due = lifecycle.account_state(self.redis, ACCOUNT).get("next_due")
        if pending and due is not None and due > time.time():
            return (f"{pending} contacts pending; next batch in {due - time.time():.0f} s "
                    f"(interval {interval:g} s after the last completed)")
        return f"{pending} contacts pending"


class Screen:
    """The progress bars: events sent, what the sync is doing, batches completed."""

    def __init__(self, console: Console, events: int) -> None:
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                 BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                 console=console)
        self.sent = self.progress.add_task("events sent to the webhook", total=events)
        self.sync: TaskID = self.progress.add_task("sync: waiting", total=None)
        self.batches = self.progress.add_task("batches completed", total=None)

    def __enter__(self) -> Screen:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


def run(driver: Driver, feed: Feed, expected: Expected, interval: float) -> tuple[
        RunFacts, klaviyo_state.KlaviyoState]:
    """Send both waves and wait for each to be in Klaviyo; return the facts and what
    Klaviyo holds. Raises :class:`Interrupted` or :class:`DemoError`."""
    facts = RunFacts(interval=interval)
    driver.wait_until_up()
    driver.prepare(feed, facts)
    driver.console.print(f"Klaviyo: default list created (set on the account at runtime); "
                         f"{len(feed.preexisting)} profiles exist there before the feed.")
    timeout = 120 + 4 * interval + feed.contacts / 20
    with Screen(driver.console, len(feed.events)) as screen:
        def tick() -> None:
            screen.progress.update(screen.sync, description=f"sync: {driver.status_line(interval)}")
            screen.progress.update(screen.batches, completed=driver.completed())

        for number, wave in enumerate(feed.waves, start=1):
            before = driver.completed()
            for start in range(0, len(wave), REQUEST_EVENTS):
                driver.post(wave[start:start + REQUEST_EVENTS])
                screen.progress.advance(screen.sent, len(wave[start:start + REQUEST_EVENTS]))
            driver.wait(lambda before=before: driver.synced(before), timeout,  # type: ignore[misc]
                        f"wave {number} to be synced", tick)
            if number == 1:
                for change in expected.email_changes:
                    found = klaviyo_state.profile_id_of(driver.api, change.old_email)
                    facts.ids_before_change[change.contact_id] = found or ""
        tick()
        screen.progress.update(screen.sync, description="sync: every wave is in Klaviyo",
                               total=1, completed=1)
    facts.batches = driver.batches()
    return facts, klaviyo_state.read_state(driver.api, driver.list_id)
