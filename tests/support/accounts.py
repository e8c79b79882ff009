"""Creating the accounts a test sends events for.

The producers refuse events for accounts that are not configured (issue 19, finding 7), so
a test that posts events for ``acme`` creates ``acme`` first, as a user would: through the
project's own account service (what ``PUT /v1/accounts/{account}`` runs), without a Klaviyo
key unless the test sets one (such an account is known but does not sync).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import redis

from shared.accounts import ACCOUNT_NAME, AccountStore
from shared.settings import Settings

TEST_ACCOUNT = "acme"
"""The account of the events built by the test helpers unless they say otherwise."""


def configure_accounts(client: redis.Redis, *names: str) -> None:
    """Create each of ``names`` that is not configured yet (``default`` always is)."""
    store = AccountStore(client, Settings())
    for name in names:
        if not store.exists(name):
            store.create(name)


def accounts_of(events: Iterable[Any]) -> list[str]:
    """The distinct ``account_id`` s of ``events`` (dicts or models; others are skipped:
    a test of bad input may send anything)."""
    found: dict[str, None] = {}
    for item in events:
        account = item.get("account_id") if isinstance(item, dict) else getattr(
            item, "account_id", None)
        if isinstance(account, str) and ACCOUNT_NAME.match(account):
            found[account] = None
    return list(found)
