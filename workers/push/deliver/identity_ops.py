"""Profile look-ups by email, 100 per call (``any(email,[...])``, Klaviyo's most per page),
for the lazy side of identity."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from workers.runtime.actor_context import Klaviyo

PAGE = 100


def lookup_page(klaviyo: Klaviyo, emails: Sequence[str]) -> dict[str, str]:
    """One call: normalised email -> profile id, for those of ``emails`` (at most
    :data:`PAGE`) that Klaviyo knows; the others are simply absent."""
    if len(emails) > PAGE:
        raise ValueError(f"at most {PAGE} emails per look-up")
    answer: Any = klaviyo.gateway.call(
        "get_profiles", klaviyo.api.Profiles.get_profiles,
        filter=f"any(email,{json.dumps(list(emails))})", page_size=PAGE,
        fields_profile=["email"])
    found: dict[str, str] = {}
    for profile in (answer or {}).get("data") or []:
        email = ((profile.get("attributes") or {}).get("email") or "").strip().lower()
        if email:
            found[email] = str(profile["id"])
    return found


def lookup_profiles(klaviyo: Klaviyo, emails: Sequence[str]) -> dict[str, str]:
    """normalised email -> profile id, for those of ``emails`` that Klaviyo knows."""
    found: dict[str, str] = {}
    unique = sorted(set(emails))
    for start in range(0, len(unique), PAGE):
        found.update(lookup_page(klaviyo, unique[start:start + PAGE]))
    return found
