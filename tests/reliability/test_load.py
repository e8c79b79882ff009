"""Load: a fixed ingest rate through the real ``web`` process for minutes while the real
collector, scheduler and two workers sync to the sandbox.

Proves (issue 6, "Load"): the memory of every process stays flat (no leak), the events
stream is trimmed after acknowledgement (its length stays bounded), and the backlog drains
(every contact in the sandbox once, with its newest state). The figures are printed
(``pytest -s``); nothing is asserted about time.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from shared import constants as keys
from tests.support.process_stack import ProcessStack, contact_event

RATE = int(os.environ.get("LOAD_EVENTS_PER_SECOND", "500"))
"""Events per second sent to the webhook, in requests of :data:`BATCH` events."""
SECONDS = int(os.environ.get("LOAD_SECONDS", "120"))
BATCH = 100
UPDATES_PER_CONTACT = 2
"""Each contact is changed this many times (spread over the run): the newest must win."""
SAMPLE_EVERY_S = 3.0
DRAIN_TIMEOUT_S = 180.0
ACCOUNT = "default"
GROWTH_FACTOR, GROWTH_SLACK_KB = 1.25, 16 * 1024
"""Flat memory: the median RSS of the last third of the run is at most 1.25 x that of the
first third + 16 MB. Measured: every process within 5 MB (workers ~135 MB, the others
70-85 MB). Keeping one event's body (~400 bytes) per event would add ~16 MB between the
thirds' medians in the web process, one mirrored contact per contact in a worker more:
the bound catches a leak of that order, not scheduling noise."""
WARM_UP_SAMPLES = 3
"""Left out of the comparison: a worker grows from ~100 to ~140 MB in its first seconds
(imports, the SDK's models, its first full batch), then stays flat."""
MAX_STREAM_LENGTH = 20 * RATE
"""The events stream never holds more than ~20 s of ingest: the collector trims what it
acknowledged."""

EPOCH = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def tree_rss_kb(root: int) -> int:
    """VmRSS (kB) of ``root`` and all its descendants (a ``dramatiq`` worker forks), from
    /proc; processes that vanish while being read count 0."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
            parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        tree.update(children)
        frontier.extend(children)
    total = 0
    for pid in tree:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


@dataclass
class Figures:
    """What the run measured."""

    rss_kb: dict[str, list[int]] = field(default_factory=dict)
    stream_lengths: list[int] = field(default_factory=list)
    latencies_s: list[float] = field(default_factory=list)
    accepted: int = 0
    refused: list[str] = field(default_factory=list)
    behind_s: float = 0.0
    ingest_s: float = 0.0
    drain_s: float = 0.0

    def sample(self, stack: ProcessStack, client: redis.Redis) -> None:
        for name, group in stack.processes.items():
            for index, managed in enumerate(group):
                label = f"{name}-{index}"
                self.rss_kb.setdefault(label, []).append(tree_rss_kb(managed.process.pid))
        self.stream_lengths.append(int(client.xlen(keys.EVENTS_STREAM)))

    def thirds(self, label: str) -> tuple[float, float]:
        """Median RSS of the first and last thirds, after :data:`WARM_UP_SAMPLES`."""
        samples = self.rss_kb[label][WARM_UP_SAMPLES:]
        third = max(1, len(samples) // 3)
        return statistics.median(samples[:third]), statistics.median(samples[-third:])


def events_of_request(request: int, contacts: int) -> list[dict[str, Any]]:
    """The :data:`BATCH` events of request number ``request``: event ``i`` changes contact
    ``i % contacts`` to version ``i // contacts`` (a later ``occurred_at``)."""
    events = []
    for i in range(request * BATCH, (request + 1) * BATCH):
        n, version = i % contacts, i // contacts
        events.append(contact_event(
            ACCOUNT, f"L-{n}", (EPOCH + timedelta(seconds=i)).isoformat(),
            event_id=f"load-{i}", email=f"load{n}@example.com", first_name=f"v{version}",
            role="Decision Maker", marketing="unknown"))
    return events


def ingest(stack: ProcessStack, client: redis.Redis, figures: Figures, requests: int,
           contacts: int) -> None:
    """Send ``requests`` requests at :data:`RATE` events/s (a fixed schedule: a late request
    is sent at once, never skipped), sampling memory and the stream every few seconds."""
    interval = BATCH / RATE
    began = time.monotonic()
    next_sample = began
    for request in range(requests):
        due = began + request * interval
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        figures.behind_s = max(figures.behind_s, time.monotonic() - due)
        sent = time.monotonic()
        answer = stack.post_events(events_of_request(request, contacts))
        figures.latencies_s.append(time.monotonic() - sent)
        if answer.status_code == 202:
            figures.accepted += answer.json()["accepted"]
        else:
            figures.refused.append(f"{answer.status_code} {answer.text[:200]}")
        if time.monotonic() >= next_sample:
            figures.sample(stack, client)
            next_sample += SAMPLE_EVERY_S
    figures.ingest_s = time.monotonic() - began


def wait_drained(sandbox: Any, contacts: int, figures: Figures,
                 sample: Callable[[], None]) -> list[dict[str, Any]]:
    """The sandbox's profiles once all ``contacts`` are there with their newest state."""
    newest = f"v{UPDATES_PER_CONTACT - 1}"
    began = time.monotonic()
    while True:
        profiles: list[dict[str, Any]] = sandbox.profiles(sandbox.key)
        if len(profiles) >= contacts and all(p["first_name"] == newest for p in profiles):
            figures.drain_s = time.monotonic() - began
            return profiles
        if time.monotonic() - began > DRAIN_TIMEOUT_S:
            stale = sum(p["first_name"] != newest for p in profiles)
            pytest.fail(f"backlog not drained after {DRAIN_TIMEOUT_S:.0f} s: "
                        f"{len(profiles)}/{contacts} profiles, {stale} not newest")
        sample()
        time.sleep(2)


def report(figures: Figures, contacts: int) -> str:
    latencies = sorted(figures.latencies_s)
    lines = [
        f"load: {figures.accepted} events accepted in {figures.ingest_s:.1f} s "
        f"({figures.accepted / figures.ingest_s:.0f} events/s, target {RATE}/s in "
        f"{BATCH}-event requests), at most {figures.behind_s:.2f} s behind schedule",
        f"load: POST latency median {statistics.median(latencies) * 1000:.0f} ms, "
        f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.0f} ms, "
        f"max {latencies[-1] * 1000:.0f} ms",
        f"load: backlog drained {figures.drain_s:.1f} s after the last request; "
        f"{contacts} contacts in the sandbox, each once, newest state",
        f"load: events stream length max {max(figures.stream_lengths)}, "
        f"median {statistics.median(figures.stream_lengths):.0f}, "
        f"last {figures.stream_lengths[-1]} ({len(figures.stream_lengths)} samples)",
    ]
    for label in sorted(figures.rss_kb):
        first, last = figures.thirds(label)
        samples = figures.rss_kb[label]
        series = " ".join(f"{kb / 1024:.0f}" for kb in samples[::4])
        lines.append(f"load: RSS {label}: first third median {first / 1024:.1f} MB, last "
                     f"third {last / 1024:.1f} MB, max {max(samples) / 1024:.1f} MB "
                     f"({len(samples)} samples; every 4th, MB: {series})")
    return "\n".join(lines)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_steady_ingest_keeps_memory_flat_trims_the_stream_and_drains_the_backlog(
    process_stack: ProcessStack, sandbox: Any, r: redis.Redis,
) -> None:
    requests = RATE * SECONDS // BATCH
    contacts = requests * BATCH // UPDATES_PER_CONTACT
    process_stack.start("web")
    process_stack.start("collector")
    process_stack.start("scheduler")
    process_stack.start("worker", 2)
    figures = Figures()
    ingest(process_stack, r, figures, requests, contacts)
    profiles = wait_drained(sandbox, contacts, figures,
                            lambda: figures.sample(process_stack, r))
    figures.sample(process_stack, r)
    print("\n" + report(figures, contacts))

    assert figures.refused == []
    assert figures.accepted == requests * BATCH
    emails = [p["email"] for p in profiles]
    assert len(emails) == len(set(emails)) == contacts, "a contact is missing or duplicated"
    assert set(emails) == {f"load{n}@example.com" for n in range(contacts)}
    assert max(figures.stream_lengths) <= MAX_STREAM_LENGTH
    assert figures.stream_lengths[-1] <= BATCH, "acknowledged entries were not trimmed"
    for label in figures.rss_kb:
        first, last = figures.thirds(label)
        assert last <= first * GROWTH_FACTOR + GROWTH_SLACK_KB, (
            f"{label} grew from {first / 1024:.0f} MB to {last / 1024:.0f} MB:\n"
            + report(figures, contacts))
