"""The account state record: the hash :func:`shared.constants.state`, the scheduling state
of one account.

Fields: ``running`` (the running batch's id, or absent), ``started_at``, ``enqueued_at``
(the scheduler handed the batch to Dramatiq), ``completed_at``, ``next_due``,
``last_batch``, ``last_completed`` and ``force`` (``sync-now`` asked for a batch).
"""

from __future__ import annotations

import redis

from shared import constants as keys
from shared.state import due_accounts


def request_sync_now(client: redis.Redis, account: str) -> None:
    """Make the account due at the scheduler's next tick, interval or not (``sync-now``);
    still never while a batch of it runs."""
    client.hset(keys.state(account), "force", "1")
    due_accounts.look_at(client, account, due_accounts.ASAP)
