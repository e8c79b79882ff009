"""What a person does to their consent inside Klaviyo, played by the inspection API.

``POST /__sandbox/accounts/{key}/profiles/{id}/consent`` with ``{"action": ..., "at": ISO,
"list_id": ...}`` (``at``: when it happened, default now) changes one profile the way
Klaviyo's own channels do (an unsubscribe link, a bounce, a complaint, an SMS ``STOP``), so
tests and the demo can show a Klaviyo-side change reaching the CRM:

* ``unsubscribe`` -- email consent ``UNSUBSCRIBED`` and an ``UNSUBSCRIBE`` suppression;
* ``bounce`` / ``complain`` / ``suppress`` / ``invalid`` -- a ``HARD_BOUNCE`` /
  ``SPAM_COMPLAINT`` / ``USER_SUPPRESSED`` / ``INVALID_EMAIL`` suppression (consent kept);
* ``unsubscribe_list`` -- leaves ``list_id`` with an ``UNSUBSCRIBE`` list suppression;
* ``subscribe`` -- signs up again: consent ``SUBSCRIBED``; the suppressions a subscribe lifts
  go (hard bounces and invalid emails stay);
* ``stop`` / ``sms_subscribe`` -- SMS consent ``UNSUBSCRIBED`` / ``SUBSCRIBED``.

Each change moves the profile's ``updated`` to now, as Klaviyo does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sandbox.errors import invalid, not_found
from sandbox.filters import parse_datetime
from sandbox.http import Reply, Request, Route
from sandbox.ids import iso, now
from sandbox.inspect_controls import account_of, body_of
from sandbox.store import Channel, Profile

LIFTED_BY_SUBSCRIBE = {"UNSUBSCRIBE", "SPAM_REPORT", "SPAM_COMPLAINT", "USER_SUPPRESSED"}
"""The suppressions a subscribe removes (hard bounces and invalid emails stay)."""
SUPPRESSING = {"bounce": "HARD_BOUNCE", "complain": "SPAM_COMPLAINT",
               "suppress": "USER_SUPPRESSED", "invalid": "INVALID_EMAIL"}
ACTIONS = ("unsubscribe", *SUPPRESSING, "unsubscribe_list", "subscribe", "stop",
           "sms_subscribe")


def set_channel(channel: Channel, consent: str, when: datetime, method: str) -> None:
    """One channel's consent as of ``when``."""
    channel.consent = consent
    channel.consent_timestamp = when
    channel.last_updated = when
    channel.method = method
    channel.method_detail = None


def add_suppression(profile: Profile, reason: str, when: datetime) -> None:
    """A global email-marketing suppression (one per reason, its newest time)."""
    profile.suppressions = [s for s in profile.suppressions if s["reason"] != reason]
    profile.suppressions.append({"reason": reason, "timestamp": iso(when)})


def lift_suppressions(profile: Profile) -> None:
    """What a subscribe does to suppressions: only hard bounces and invalid emails stay."""
    profile.suppressions = [
        s for s in profile.suppressions if s["reason"] not in LIFTED_BY_SUBSCRIBE]
    profile.list_suppressions = []


def _when(body: dict[str, Any]) -> datetime:
    raw = body.get("at")
    if raw is None:
        return now()
    try:
        return parse_datetime(str(raw))
    except ValueError:
        raise invalid("'at' must be an ISO 8601 datetime.", pointer="/at") from None


def apply_action(req: Request, profile: Profile, action: str, body: dict[str, Any]) -> None:
    when = _when(body)
    if action == "unsubscribe":
        set_channel(profile.email_marketing, "UNSUBSCRIBED", when, "EMAIL_UNSUBSCRIBE")
        add_suppression(profile, "UNSUBSCRIBE", when)
    elif action in SUPPRESSING:
        add_suppression(profile, SUPPRESSING[action], when)
    elif action == "unsubscribe_list":
        rec = account_of(req).lists.get(str(body.get("list_id")))
        if rec is None:
            raise invalid("'list_id' must name a list of the account.", pointer="/list_id")
        rec.remove(profile.id)
        profile.list_suppressions = [
            s for s in profile.list_suppressions if s["list_id"] != rec.id]
        profile.list_suppressions.append(
            {"list_id": rec.id, "reason": "UNSUBSCRIBE", "timestamp": iso(when)})
    elif action == "subscribe":
        set_channel(profile.email_marketing, "SUBSCRIBED", when, "FORM")
        lift_suppressions(profile)
    elif action == "stop":
        set_channel(profile.sms_marketing, "UNSUBSCRIBED", when, "SMS_STOP")
    else:  # sms_subscribe
        set_channel(profile.sms_marketing, "SUBSCRIBED", when, "TEXT")
    profile.updated = now()


def change_consent(req: Request) -> Reply:
    """One person's consent change made in Klaviyo (see the module docstring)."""
    body = body_of(req)
    action = body.get("action")
    if action not in ACTIONS:
        raise invalid(f"'action' must be one of {', '.join(ACTIONS)}.", pointer="/action")
    profile = account_of(req).profiles.get(req.params["id"])
    if profile is None:
        raise not_found("No profile has that id.")
    apply_action(req, profile, str(action), body)
    return Reply(200, {"id": profile.id, "action": action, "updated": iso(profile.updated)})


SUPPRESSION_ROUTES = [
    Route("POST", "/__sandbox/accounts/{key}/profiles/{id}/consent", "consent", change_consent),
]
