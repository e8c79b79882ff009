"""What a Klaviyo account holds, read back through the official SDK (``klaviyo-api``).

Every profile (with its email-marketing consent) and the members of one list, page by page
(100 a page, the API's maximum). The SDK itself waits out a 429 (its own retries are on
here: this is a reader, not a worker).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from klaviyo_api import KlaviyoAPI

PAGE_SIZE = 100


@dataclass(frozen=True)
class KlaviyoProfile:
    id: str
    email: str
    first_name: str | None
    last_name: str | None
    title: str | None
    crm_contact_id: str | None
    consent: str
    """Email-marketing consent: SUBSCRIBED, UNSUBSCRIBED, NEVER_SUBSCRIBED ..."""

    @property
    def unsubscribed(self) -> bool:
        return self.consent == "UNSUBSCRIBED"


@dataclass
class KlaviyoState:
    profiles: list[KlaviyoProfile]
    list_members: set[str]
    """Profile ids in the default list."""

    def by_email(self) -> dict[str, list[KlaviyoProfile]]:
        found: dict[str, list[KlaviyoProfile]] = {}
        for profile in self.profiles:
            found.setdefault(profile.email, []).append(profile)
        return found


def client(key: str, url: str) -> KlaviyoAPI:
    """The SDK on ``url`` (the sandbox) with ``key``, answering plain dicts."""
    return KlaviyoAPI(key, max_delay=5, max_retries=8, test_host=url,
                      options={"USE_DICTIONARY_FOR_RESPONSE_DATA": True})


def _pages(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
    cursor: str | None = None
    while True:
        answer: Any = call(*args, page_size=PAGE_SIZE, page_cursor=cursor, **kwargs)
        yield from answer.get("data") or []
        cursor = (answer.get("links") or {}).get("next")
        if not cursor:
            return


def _profile(item: dict[str, Any]) -> KlaviyoProfile:
    attributes = item.get("attributes") or {}
    marketing = ((attributes.get("subscriptions") or {}).get("email") or {}).get("marketing")
    properties = attributes.get("properties") or {}
    return KlaviyoProfile(
        id=str(item["id"]), email=(attributes.get("email") or "").strip().lower(),
        first_name=attributes.get("first_name"), last_name=attributes.get("last_name"),
        title=attributes.get("title"), crm_contact_id=properties.get("crm_contact_id"),
        consent=str((marketing or {}).get("consent") or "NEVER_SUBSCRIBED"))


def read_state(api: KlaviyoAPI, list_id: str) -> KlaviyoState:
    profiles = [_profile(item) for item in _pages(
        api.Profiles.get_profiles, additional_fields_profile=["subscriptions"])]
    members = {str(item["id"]) for item in _pages(api.Lists.get_profile_ids_for_list, list_id)}
    return KlaviyoState(profiles, members)


def profile_id_of(api: KlaviyoAPI, email: str) -> str | None:
    """The id of the profile with ``email``, or None."""
    answer: Any = api.Profiles.get_profiles(filter=f'equals(email,"{email}")',
                                            fields_profile=["email"])
    data = answer.get("data") or []
    return str(data[0]["id"]) if data else None


def create_list(api: KlaviyoAPI, name: str) -> str:
    answer: Any = api.Lists.create_list({"data": {"type": "list", "attributes": {"name": name}}})
    return str(answer["data"]["id"])


def create_profile(api: KlaviyoAPI, email: str, first_name: str) -> str:
    answer: Any = api.Profiles.create_profile({"data": {"type": "profile", "attributes": {
        "email": email, "first_name": first_name}}})
    return str(answer["data"]["id"])
