"""What Klaviyo must hold after the demo, computed from the feed alone.

Deliberately independent of the sync's code (no planner, no email validation of ours): the
rules of docs/ARCHITECTURE.md §1 applied to the events as the CRM sent them. Per contact the
newest ``occurred_at`` wins, whatever the arrival order; only contacts inside both filters
with a real email are sent (the feed says which emails it made invalid); contacts sharing
an email (compared case-insensitively) are one profile carrying the newest state; a
contact's first sync decides its default-list membership (unsubscribed ones stay out); an
email change keeps the profile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cli.demo.feed import Feed
from shared.planning.planner import EmailChange


@dataclass(frozen=True)
class ExpectedProfile:
    """One profile the sync must have written (one normalised email)."""

    email: str
    contact_ids: tuple[str, ...]
    crm_contact_id: str
    """The id of the group's newest state (the one Klaviyo must show)."""
    first_name: str | None
    last_name: str | None
    title: str | None
    in_list: bool
    unsubscribed: bool


@dataclass
class Expected:
    profiles: dict[str, ExpectedProfile]
    """normalised email -> the profile the sync must have written."""
    preexisting: set[str]
    """Normalised emails of the profiles that existed before the feed."""
    excluded_by_filter: list[str]
    invalid_email: list[str]
    out_of_order: list[str]
    """Contacts an older state of which arrived after a newer one."""
    email_changes: list[EmailChange]
    contacts: int
    events: int
    counts: dict[str, int] = field(default_factory=dict)
    left_filters: list[str] = field(default_factory=list)
    """Contacts that joined the list at their first sync and left the filters since: out
    of the list, their profile kept (with its older state)."""
    erased: list[str] = field(default_factory=list)
    """Contacts erased (``contact.erased``): no profile left."""
    cleared: list[str] = field(default_factory=list)
    """Contacts sent whose newest state clears a field they had: cleared in Klaviyo."""

    @property
    def shared(self) -> list[ExpectedProfile]:
        """Profiles of two or more CRM contacts."""
        return [p for p in self.profiles.values() if len(p.contact_ids) > 1]


def normalise(email: str) -> str:
    return email.strip().lower()


def _time(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00"))


def _newest(events: list[dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """contact id -> newest state, and the contacts that got an older state late."""
    newest: dict[str, tuple[datetime, dict[str, Any]]] = {}
    late: list[str] = []
    for event in events:
        cid, at = event["contact"]["id"], _time(event)
        if cid in newest and at < newest[cid][0]:
            late.append(cid)
        if cid not in newest or at > newest[cid][0]:
            newest[cid] = (at, event)
    return {cid: event for cid, (_, event) in newest.items()}, sorted(set(late))


def _inside(feed: Feed, contact: dict[str, Any]) -> bool:
    roles = {r.casefold() for r in feed.roles}
    types = {t.casefold() for t in feed.company_types}
    company_type = (contact.get("company") or {}).get("type") or ""
    return (contact.get("role") or "").casefold() in roles and company_type.casefold() in types


def _valid(feed: Feed, email: str | None) -> bool:
    return email is not None and email.strip() not in feed.invalid_emails


def compute(feed: Feed) -> Expected:
    final, late = _newest(feed.events)
    first_waves: dict[str, dict[str, Any]] = {}
    for wave in feed.waves:  # the state of each contact's first sync: its first wave's newest
        newest, _ = _newest(wave)
        for cid, event in newest.items():
            first_waves.setdefault(cid, event)
    excluded, invalid, left, erased = [], [], [], []
    groups: dict[str, list[dict[str, Any]]] = {}
    for cid, event in sorted(final.items()):
        contact = event["contact"]
        first = first_waves[cid]["contact"]
        if event["type"] == "contact.erased":
            erased.append(cid)
        elif not _inside(feed, contact) and first is not contact and _inside(feed, first) \
                and _valid(feed, first.get("email")) and first["marketing"] != "unsubscribed":
            left.append(cid)
        elif not _inside(feed, contact):
            excluded.append(cid)
        elif not _valid(feed, contact.get("email")):
            invalid.append(cid)
        else:
            groups.setdefault(normalise(contact["email"]), []).append(event)
    profiles = {}
    for email, events in groups.items():
        winner = max(events, key=_time)["contact"]
        ids = tuple(sorted(e["contact"]["id"] for e in events))
        profiles[email] = ExpectedProfile(
            email=email, contact_ids=ids, crm_contact_id=winner["id"],
            first_name=winner.get("first_name"), last_name=winner.get("last_name"),
            title=winner.get("job_title"),
            in_list=any(first_waves[cid]["contact"]["marketing"] != "unsubscribed"
                        for cid in ids),
            unsubscribed=winner["marketing"] == "unsubscribed")
    changes = [EmailChange(cid, normalise(first_waves[cid]["contact"]["email"]), email)
               for email, profile in profiles.items() for cid in profile.contact_ids
               if _valid(feed, first_waves[cid]["contact"].get("email"))
               and normalise(first_waves[cid]["contact"]["email"]) != email]
    return Expected(
        profiles=profiles,
        preexisting={normalise(seed.email) for seed in feed.preexisting},
        excluded_by_filter=excluded, invalid_email=invalid,
        out_of_order=[cid for cid in late if cid in {c for p in profiles.values()
                                                     for c in p.contact_ids}],
        email_changes=changes, contacts=len(final), events=len(feed.events),
        left_filters=left, erased=erased,
        cleared=sorted(cid for p in profiles.values() for cid in p.contact_ids
                       if final[cid]["contact"].get("job_title", "") is None
                       and first_waves[cid]["contact"].get("job_title")),
    )
