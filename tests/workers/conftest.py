"""Fixtures of the worker tests: a Dramatiq worker in the test process, on the test's
Redis, syncing into the test's sandbox account."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest

from tests.workers.push_harness import prepare_env, push_worker


@pytest.fixture
def worker(redis_url: str, sandbox: Any, monkeypatch: pytest.MonkeyPatch
           ) -> Iterator[dramatiq.Worker]:
    """Every actor running in this process (4 threads) until the test ends."""
    prepare_env(monkeypatch, redis_url, sandbox.url)
    with push_worker(redis_url) as running:
        yield running
