"""Fixtures of the reverse-sync tests."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from tests.workers.push_harness import prepare_env
from tests.workers.reverse.reverse_harness import ReverseAccount


@pytest.fixture
def acct(monkeypatch: Any, r: redis.Redis, redis_url: str, sandbox: Any) -> ReverseAccount:
    """A CRM account whose Klaviyo is a fresh sandbox account."""
    prepare_env(monkeypatch, redis_url, sandbox.url)
    return ReverseAccount(r, sandbox)
