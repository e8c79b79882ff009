"""``get_profiles`` filters and sorts on email-marketing suppressions (Klaviyo's
``subscriptions.email.marketing.suppression.*`` and ``...list_suppressions.*``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sandbox.filters import Term, parse_datetime
from sandbox.store import Profile

_SUPPRESSION = "subscriptions.email.marketing.suppression."
_LIST_SUPPRESSION = "subscriptions.email.marketing.list_suppressions."
_TIMES = {"greater-or-equal", "greater-than", "less-or-equal", "less-than"}
SUPPRESSION_FILTERS: dict[str, set[str]] = {
    _SUPPRESSION + "reason": {"equals"},
    _SUPPRESSION + "timestamp": _TIMES,
    _LIST_SUPPRESSION + "reason": {"equals"},
    _LIST_SUPPRESSION + "list_id": {"equals"},
    _LIST_SUPPRESSION + "timestamp": _TIMES,
}
"""The allowed fields and operators, as in Klaviyo's ``get_profiles`` filter description."""
SUPPRESSION_SORTS = {_SUPPRESSION + "timestamp", _LIST_SUPPRESSION + "timestamp"}
_EPOCH = parse_datetime("1970-01-01T00:00:00+00:00")


def _records(profile: Profile, field: str) -> list[dict[str, Any]]:
    return profile.suppressions if field.startswith(_SUPPRESSION) else profile.list_suppressions


def _value(record: dict[str, Any], name: str) -> Any:
    raw = record.get(name)
    return parse_datetime(raw) if name == "timestamp" and isinstance(raw, str) else raw


def matches_suppression(profile: Profile, term: Term,
                        compare: Callable[[Any, Term], bool]) -> bool:
    """True when one of the profile's suppressions matches the term."""
    name = term.field.rsplit(".", 1)[1]
    for record in _records(profile, term.field):
        value = _value(record, name)
        if value is None:
            continue
        if term.op == "equals" and value == term.value:
            return True
        if term.op != "equals" and isinstance(value, datetime) and compare(value, term):
            return True
    return False


def suppression_sort_key(profile: Profile, field: str) -> tuple[datetime, str]:
    """The profile's newest suppression time of that kind (profiles without one first)."""
    times = [_value(record, "timestamp") for record in _records(profile, field)]
    found = [t for t in times if isinstance(t, datetime)]
    return (max(found) if found else _EPOCH, profile.id)
