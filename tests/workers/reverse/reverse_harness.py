"""Helpers of the reverse-sync tests: a CRM account linked to a fresh sandbox Klaviyo
account, with sign-ups made the way Klaviyo forms make them (sandbox members API)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import redis

from shared import constants as keys
from tests.workers.push_harness import PushAccount
from workers.reverse.crm_outbox import Publisher
from workers.reverse.discovery import Discovery, discover
from workers.reverse.members import LOOKBACK_S, PullResult, find_removals, pull_list
from workers.reverse.state import known_lists
from workers.runtime.actor_context import Klaviyo, account_config, klaviyo_for


class ReverseAccount(PushAccount):
    """A :class:`PushAccount` with list sign-ups, discovery and pulls."""

    def klaviyo(self) -> Klaviyo:
        return klaviyo_for(self.r, account_config(self.r, self.name))

    def person(self, email: str | None = None, phone: str | None = None) -> str:
        """A new Klaviyo profile (not in any list); its id."""
        attributes: dict[str, Any] = {"email": email or f"p-{uuid.uuid4().hex[:10]}@example.com"}
        if phone:
            attributes["phone_number"] = phone
        answer: Any = self.api.Profiles.create_profile(
            {"data": {"type": "profile", "attributes": attributes}})
        return str(answer["data"]["id"])

    def people(self, count: int) -> list[str]:
        return [self.person() for _ in range(count)]

    def sign_up(self, list_id: str, profile_ids: list[str],
                at: datetime | str | None = None) -> None:
        """Members join through a form (``at``: their joined_group_at)."""
        self.sandbox.add_members(list_id, profile_ids, joined_group_at=at, key=self.key)

    def leave(self, list_id: str, profile_ids: list[str]) -> None:
        self.sandbox.remove_members(list_id, profile_ids, key=self.key)

    def discover(self, now: float = 1_800_000_000.0) -> Discovery:
        return discover(self.r, self.klaviyo(), self.name, now)

    def pull(self, started: float, lookback: float = LOOKBACK_S,
             removals: bool = False) -> dict[str, PullResult]:
        """One pull of every active known list, as the pull actor does it."""
        klaviyo = self.klaviyo()
        results: dict[str, PullResult] = {}
        for known in known_lists(self.r, self.name):
            if known.active:
                publisher = Publisher(self.r, self.name, known.id, known.name, lambda: started)
                results[known.id] = pull_list(self.r, klaviyo, publisher, started, lookback)
                if removals:
                    find_removals(self.r, klaviyo, publisher)
        return results

    def events(self) -> list[dict[str, str]]:
        """The subscribers stream, oldest first: fields plus ``id``."""
        found: Any = self.r.xrange(keys.subscribers_stream(self.name))
        return [{"id": entry_id, **fields} for entry_id, fields in found]

    def added(self, list_id: str | None = None) -> list[str]:
        """Profile ids published as subscriber.added (optionally for one list), in order."""
        return [e["profile_id"] for e in self.events()
                if e["type"] == "subscriber.added" and list_id in (None, e["list_id"])]


def reverse_account(r: redis.Redis, sandbox: Any) -> ReverseAccount:
    return ReverseAccount(r, sandbox)
