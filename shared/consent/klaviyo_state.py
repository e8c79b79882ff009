"""One profile's consent as the sync compares it: per channel a state (``subscribed``,
``unsubscribed``, ``unknown``), Klaviyo's reason and the time of the change, read from the
``subscriptions`` object of ``additional-fields[profile]=subscriptions``.

Email: a global suppression (``HARD_BOUNCE``, ``SPAM_COMPLAINT``, ``UNSUBSCRIBE``,
``USER_SUPPRESSED``, ``INVALID_EMAIL``: the newest one) or an unsubscribe from the account's
default list makes the person ``unsubscribed`` whatever the consent says (Klaviyo sends
them no marketing); otherwise the consent decides. SMS: the consent decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

Consent = Literal["subscribed", "unsubscribed", "unknown"]
CHANNELS = ("email", "sms")


@dataclass(frozen=True)
class ChannelState:
    """The consent of one channel as Klaviyo shows it."""

    consent: Consent
    reason: str | None = None
    occurred_at: datetime | None = None

    @property
    def key(self) -> str:
        """What is compared with the state the sync last knew (the time is not: a state
        read again is the same state)."""
        return f"{self.consent}:{self.reason or ''}"


UNKNOWN = ChannelState("unknown")


def as_time(value: Any) -> datetime | None:
    """A Klaviyo time (the SDK's datetime or ISO text) as an aware UTC datetime."""
    if value is None or value == "":
        return None
    if not isinstance(value, datetime):
        try:
            value = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    moment: datetime = value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _newest(records: Any, list_id: str | None = None) -> Mapping[str, Any] | None:
    found = [r for r in records or [] if isinstance(r, Mapping)
             and (list_id is None or r.get("list_id") == list_id)]
    epoch = datetime.fromtimestamp(0, UTC)
    return max(found, key=lambda r: as_time(r.get("timestamp")) or epoch, default=None)


def _by_consent(channel: Mapping[str, Any]) -> ChannelState:
    consent = str(channel.get("consent") or "")
    when = as_time(channel.get("consent_timestamp")) or as_time(channel.get("last_updated"))
    if consent == "SUBSCRIBED":
        return ChannelState("subscribed", None, when)
    if consent == "UNSUBSCRIBED":
        return ChannelState("unsubscribed", None, when)
    return UNKNOWN


def email_state(subscriptions: Mapping[str, Any], default_list: str | None) -> ChannelState:
    """The email-marketing state (see the module docstring)."""
    marketing = (subscriptions.get("email") or {}).get("marketing") or {}
    suppression = _newest(marketing.get("suppression"))
    if suppression is not None:
        return ChannelState("unsubscribed", str(suppression.get("reason") or "") or None,
                            as_time(suppression.get("timestamp")))
    if default_list:
        left = _newest(marketing.get("list_suppressions"), default_list)
        if left is not None:
            return ChannelState("unsubscribed", str(left.get("reason") or "") or None,
                                as_time(left.get("timestamp")))
    return _by_consent(marketing)


def sms_state(subscriptions: Mapping[str, Any]) -> ChannelState:
    """The SMS-marketing state."""
    return _by_consent((subscriptions.get("sms") or {}).get("marketing") or {})


def subscriptions_of(item: Mapping[str, Any]) -> Mapping[str, Any]:
    """The ``subscriptions`` of a profile resource ({} when absent)."""
    attrs = item.get("attributes") or {}
    found = attrs.get("subscriptions") if isinstance(attrs, Mapping) else None
    return found if isinstance(found, Mapping) else {}
