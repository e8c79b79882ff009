"""Per-member order of CRM deliveries.

A member's ``subscriber.removed`` must not reach the CRM before their ``subscriber.added``,
even when the ``added`` POST failed and is waiting for a retry. So each member (list id,
profile id) has a small queue of undelivered entry ids in stream order, and only its head
has a ``deliver_to_crm`` message: the hand-over sends a message for an entry only when it
is the head; settling the head (delivered, given up, trimmed) sends the next one. Members
do not wait for each other, and each entry costs a fixed number of Redis commands (one
script call at hand-over, one before and one after the POST).

A head whose retries are spent is *given up*: it goes to the dead letters and the member's
next entry goes ahead, so a dead letter never holds a member for good (purged or expired
dead letters included). The newest settled entry of each member is remembered
(:func:`shared.constants.crm_member_last`); an older entry that turns up afterwards (a
replayed dead letter whose member has moved on) is *superseded*: it is not POSTed, since
it would undo the newer state in the CRM. All of it is one Lua script,
``crm_order.lua``.
"""

from __future__ import annotations

from typing import Any, Literal

import redis

from shared import constants as keys
from shared.lua_scripts import lua_script
from shared.redis_text import as_text

KEEP_S = 30 * 86_400
"""How long delivered entry ids and each member's newest settled id are remembered."""
Turn = Literal["already", "go", "wait", "superseded"]
TURNS: tuple[Turn, ...] = ("already", "go", "wait", "superseded")


CRM_ORDER = lua_script(__file__, "crm_order.lua")


class MemberOrder:
    """The per-member delivery queues of one account."""

    def __init__(self, client: redis.Redis, account: str) -> None:
        self.account = account
        self._script = CRM_ORDER.on(client)

    def _call(self, fields: dict[str, str], *args: Any) -> Any:
        list_id, profile_id = fields.get("list_id", ""), fields.get("profile_id", "")
        return self._script(keys=[keys.crm_member_queue(self.account, list_id, profile_id),
                                  keys.crm_member_last(self.account, list_id, profile_id),
                                  keys.crm_delivered(self.account)], args=list(args))

    def join(self, entry_id: str, fields: dict[str, str]) -> bool:
        """Queue a handed-over entry; True when a message should be sent for it now."""
        return bool(self._call(fields, "join", entry_id))

    def turn(self, entry_id: str, fields: dict[str, str]) -> Turn:
        """Whether the entry may be POSTed now (see ``crm_order.lua``)."""
        found = as_text(self._call(fields, "turn", entry_id))
        for turn in TURNS:
            if found == turn:
                return turn
        raise RuntimeError(f"crm_order.lua answered {found!r} to turn")

    def settle(self, entry_id: str, fields: dict[str, str], now: float, accepted: bool,
               again: bool = False) -> str | None:
        """The entry is done with (accepted by the CRM or not); returns the member's next
        entry to send, if any. ``again``: hand the head over even if the entry had already
        left the queue (a settle whose sending of the next may have failed)."""
        found = self._call(fields, "settle", entry_id, repr(now), KEEP_S,
                           "1" if accepted else "0", "1" if again else "0")
        return as_text(found) if found else None
