"""The demo's verdict: what the CRM sent (the expectations) against what Klaviyo holds.

:func:`compare` makes one :class:`Row` per check; :func:`render` the final table;
:func:`verdict` the exit code and the rows that disagree.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from rich.table import Table

from cli.demo.expectations import Expected
from cli.demo.klaviyo_state import KlaviyoProfile, KlaviyoState
from shared.state.batch_records import BatchStatus

INTERVAL_SLACK = 0.001
"""Seconds of float rounding allowed when comparing a batch's start with its due time."""


@dataclass
class RunFacts:
    """What the run itself saw (not what the sync reports about Klaviyo)."""

    preexisting_ids: dict[str, str] = field(default_factory=dict)
    """Normalised email -> id of each profile created in Klaviyo before the feed."""
    ids_before_change: dict[str, str] = field(default_factory=dict)
    """Contact id -> id of its profile after wave 1, for the contacts changing email."""
    batches: list[dict[str, Any]] = field(default_factory=list)
    """``batch_info`` of the account's batches, oldest first."""
    interval: float = 0.0


@dataclass(frozen=True)
class Row:
    check: str
    expected: int
    actual: int
    agrees: bool | None = None
    """Set when equal counts are not enough (e.g. the right members, not just as many)."""

    @property
    def ok(self) -> bool:
        return self.expected == self.actual if self.agrees is None else self.agrees


def _matches(profile: KlaviyoProfile, expected: Any) -> bool:
    return (profile.crm_contact_id, profile.first_name, profile.last_name, profile.title) == (
        expected.crm_contact_id, expected.first_name, expected.last_name, expected.title)


def _report_total(facts: RunFacts, name: str) -> int:
    return sum(int((batch.get("report") or {}).get(name, 0)) for batch in facts.batches)


def _batch_rows(facts: RunFacts) -> list[Row]:
    batches = facts.batches
    spaced = sum(1 for before, after in itertools.pairwise(batches)
                 if "completed_at" in before and after.get("started_at", 0)
                 >= before["completed_at"] + facts.interval - INTERVAL_SLACK)
    completed = sum(1 for batch in batches if batch.get("status") == BatchStatus.COMPLETED)
    return [
        Row("batches completed (none failed)", len(batches), completed),
        Row(f"next batch >= {facts.interval:g} s after the previous completed",
            max(1, len(batches) - 1), spaced),
    ]


def compare(expected: Expected, state: KlaviyoState, facts: RunFacts) -> list[Row]:
    by_email = state.by_email()
    by_id = {profile.id: profile for profile in state.profiles}
    wanted = expected.profiles
    emails = set(wanted)

    def single(email: str) -> KlaviyoProfile | None:
        found = by_email.get(email, [])
        return found[0] if len(found) == 1 else None

    preexisting_ids = set(facts.preexisting_ids.values())
    matched = {email for email in emails if (p := single(email)) and _matches(p, wanted[email])}
    email_of = {cid: email for email, p in wanted.items() for cid in p.contact_ids}
    sent_ids = {p.crm_contact_id for p in state.profiles if p.crm_contact_id}
    list_ids = {p.id for email in emails if wanted[email].in_list and (p := single(email))}
    out_of_list = {email for email in emails if not wanted[email].in_list}
    changes_ok = sum(
        1 for change in expected.email_changes
        if not by_email.get(change.old_email) and (p := single(change.new_email))
        and p.id == facts.ids_before_change.get(change.contact_id))

    def preexisting(email: str, updated: bool) -> bool:
        profile = by_id.get(facts.preexisting_ids.get(email, ""))
        return profile is not None and profile.email == email and (
            (profile.crm_contact_id is not None) == updated)

    return [
        Row("profiles in Klaviyo", len(emails | expected.preexisting)
            + len(expected.left_filters), len(state.profiles)),
        Row("  new profiles, created by the sync", len(emails - expected.preexisting),
            sum(1 for p in state.profiles if p.id not in preexisting_ids
                and p.email in emails - expected.preexisting)),
        Row("  pre-existing profiles updated (not duplicated)",
            len(emails & expected.preexisting),
            sum(preexisting(email, True) for email in emails & expected.preexisting)),
        Row("  pre-existing profiles the CRM does not match, untouched",
            len(expected.preexisting - emails),
            sum(preexisting(email, False) for email in expected.preexisting - emails)),
        Row("profiles showing the CRM's newest state", len(emails), len(matched)),
        Row("  out-of-order updates: the older state lost", len(expected.out_of_order),
            sum(1 for cid in expected.out_of_order if email_of[cid] in matched)),
        Row("  shared emails: contacts merged into one profile",
            sum(len(p.contact_ids) for p in expected.shared),
            sum(len(p.contact_ids) for p in expected.shared if p.email in matched)),
        Row("  emails with more than one profile", 0,
            sum(1 for found in by_email.values() if len(found) > 1)),
        Row("  email change applied to the same profile", len(expected.email_changes),
            changes_ok),
        Row("default list members", sum(p.in_list for p in wanted.values()),
            len(state.list_members), agrees=state.list_members == list_ids
            and len(list_ids) == sum(p.in_list for p in wanted.values())),
        Row("  not in the list: unsubscribed at their first sync", len(out_of_list),
            sum(1 for email in out_of_list if (p := single(email))
                and p.id not in state.list_members and p.unsubscribed)),
        Row("unsubscribed in Klaviyo (never subscribed by the sync)",
            sum(p.unsubscribed for p in wanted.values()),
            sum(p.unsubscribed for p in state.profiles)),
        Row("excluded by filter: not in Klaviyo", len(expected.excluded_by_filter),
            sum(1 for cid in expected.excluded_by_filter if cid not in sent_ids)),
        Row("  excluded by filter, per the sync's reports",
            len(expected.excluded_by_filter) + len(expected.left_filters),
            _report_total(facts, "excluded_filter")),
        Row("left the filters: out of the list, profile kept", len(expected.left_filters),
            sum(1 for p in state.profiles if p.crm_contact_id in expected.left_filters
                and p.id not in state.list_members)),
        Row("  left the filters, per the sync's reports", len(expected.left_filters),
            _report_total(facts, "left_filters")),
        Row("erased: no profile left in Klaviyo", len(expected.erased),
            sum(1 for cid in expected.erased if cid not in sent_ids)),
        Row("  erased, per the sync's reports", len(expected.erased),
            _report_total(facts, "erased")),
        Row("cleared in the CRM, cleared in Klaviyo (per the sync's reports)",
            len(expected.cleared), _report_total(facts, "cleared_fields")),
        Row("invalid or empty email, per the sync's reports", len(expected.invalid_email),
            _report_total(facts, "invalid_email")),
        *_batch_rows(facts),
    ]


def batch_lines(facts: RunFacts) -> list[str]:
    """One line per batch: its size, when it started after the previous, its report."""
    lines, previous = [], None
    for batch in facts.batches:
        gap = ""
        if previous is not None and "completed_at" in previous:
            gap = (f", started {batch.get('started_at', 0) - previous['completed_at']:.1f} s "
                   "after the previous completed")
        counts = ", ".join(f"{name} {value}" for name, value in
                           (batch.get("report") or {}).items() if value)
        lines.append(f"batch {batch.get('batch_id', '?')}: {batch.get('size', '?')} contacts"
                     f"{gap}; {batch.get('status', '?')}: {counts or 'nothing to do'}")
        previous = batch
    return lines


def render(rows: list[Row], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("check")
    table.add_column("expected", justify="right")
    table.add_column("actual", justify="right")
    table.add_column("ok", justify="center")
    for row in rows:
        table.add_row(row.check, str(row.expected), str(row.actual),
                      "[green]ok[/]" if row.ok else "[bold red]NO[/]")
    return table


def verdict(rows: list[Row]) -> tuple[int, str]:
    """``(exit code, message)``: 0 when every row agrees, else 1 naming the rows."""
    wrong = [row.check.strip() for row in rows if not row.ok]
    if not wrong:
        return 0, f"All {len(rows)} checks agree: Klaviyo holds what the CRM sent."
    return 1, f"{len(wrong)} of {len(rows)} checks disagree: " + "; ".join(wrong)
