"""Every list of a Klaviyo account, every page followed (the reverse sync's discovery and
the account API's default-list drop-down)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from klaviyo_api import KlaviyoAPI

from shared.klaviyo.gateway import Gateway

LISTS_PAGE = 10
"""Klaviyo's maximum page size for get_lists."""


@dataclass(frozen=True)
class KlaviyoList:
    id: str
    name: str
    created: str | None
    """When Klaviyo made it (ISO 8601), as Klaviyo says it."""


def all_lists(gateway: Gateway, api: KlaviyoAPI) -> list[KlaviyoList]:
    """Every list, in Klaviyo's order. Raises the gateway's errors
    (:class:`~shared.klaviyo.errors.RateLimited`: try again later)."""
    found: list[KlaviyoList] = []
    cursor: str | None = None
    while True:
        answer: Any = gateway.call("get_lists", api.Lists.get_lists, page_size=LISTS_PAGE,
                                   page_cursor=cursor)
        for item in (answer or {}).get("data") or []:
            attributes = item.get("attributes") or {}
            created = attributes.get("created")
            found.append(KlaviyoList(str(item["id"]), str(attributes.get("name") or ""),
                                     None if created is None else str(created)))
        cursor = ((answer or {}).get("links") or {}).get("next")
        if not cursor:
            return found
