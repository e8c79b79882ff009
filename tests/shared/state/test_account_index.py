"""The console's overview pages through every account sorted by any column: a page costs a
few round trips whatever the number of accounts, and the order is the column's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from shared import constants as keys
from shared.state import account_index
from shared.state.account_status import account_statuses

ACCOUNTS = 10_000


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """How many times a connection sent something to Redis (a pipeline sends once)."""
    sent = [0]
    original: Any = redis.connection.AbstractConnection.send_packed_command

    def counted(self: Any, command: Any, check_health: bool = True) -> None:
        sent[0] += 1
        original(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counted)
    yield sent


def _accounts(r: redis.Redis) -> None:
    pipe = r.pipeline(transaction=False)
    for n in range(ACCOUNTS):
        name = f"acct-{n:05d}"
        pipe.sadd(keys.ACCOUNTS_SET, name)
        if n % 1000 == 7:  # ten accounts with n // 1000 + 1 contacts pending
            pipe.zadd(keys.pending(name), {f"C-{i}": i for i in range(n // 1000 + 1)})
        if n == 42:
            pipe.hset(keys.state(name), "connection", "refused")
    pipe.execute()


def test_a_page_of_ten_thousand_accounts_costs_a_few_round_trips_in_the_columns_order(
        r: redis.Redis, round_trips: list[int]) -> None:
    _accounts(r)
    account_index.build(r)
    round_trips[0] = 0
    page = account_index.page(r, "pending", True, 0, 50)
    account_statuses(r, page.accounts, 0.0)
    assert round_trips[0] <= 6
    assert page.total == ACCOUNTS + 1  # and "default"
    assert page.accounts[:10] == [f"acct-{n * 1000 + 7:05d}" for n in reversed(range(10))]

    by_name = account_index.page(r, "name", False, 50, 50)
    assert by_name.accounts == [f"acct-{n:05d}" for n in range(50, 100)]
    last = account_index.page(r, "name", True, 0, 1)
    assert last.accounts == ["default"]
    assert account_index.page(r, "state", True, 0, 1).accounts == ["acct-00042"]


def test_the_index_is_built_again_once_it_expired_and_every_key_of_it_expires(
        r: redis.Redis, round_trips: list[int]) -> None:
    _accounts(r)
    round_trips[0] = 0
    account_index.page(r, "rejected", False, 0, 25)  # no index yet: built now
    built = round_trips[0]
    assert built <= 4 + 3 * (ACCOUNTS // account_index.SLICE + 1) + 4  # 3 per 1,000
    for column in (*account_index.COLUMNS, "built_at"):
        ttl = r.ttl(keys.console_account_index(column))
        assert 0 < ttl <= account_index.INDEX_TTL_S, column
    r.sadd(keys.ACCOUNTS_SET, "a-new-account")
    assert "a-new-account" not in account_index.page(r, "name", False, 0, 5).accounts
    r.delete(keys.console_account_index("built_at"))  # as when it expires
    assert account_index.page(r, "name", False, 0, 5).accounts[0] == "a-new-account"
