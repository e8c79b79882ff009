"""``contact-sync preview [--account A] [--json]``: what a bulk export of an account would send.

Counts over every mirrored contact of the account (what the collector holds), decided by
the same rules as a batch (:func:`workers.batch_planner.preview`): the filters, email
validation, the cap. The contacts are treated as one bulk export -- the initial import or the
re-evaluation after a filter change -- so the cap applies. No Klaviyo call is made.

The command answers from the counts the collector keeps (:func:`kept_preview`, two Redis
commands whatever the account's size); :func:`build_preview` reads every mirror and is the
reference the kept counts are tested against (tests/shared/test_contact_facets.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Annotated

import redis
import typer
from rich.console import Console
from rich.table import Table

from cli.process_cmds import fail, open_redis
from shared import constants as keys
from shared.accounts import DEFAULT_ACCOUNT, AccountError, AccountStore
from shared.events import MirroredContact
from shared.settings import Settings, get_settings
from shared.state.contact_facets import preview_counts
from shared.state.contact_mirror import iter_mirrors, mirrored_ids
from workers.batch_planner import Member, matches_filters, preview


@dataclass(frozen=True)
class PreviewReport:
    account: str
    contacts: int
    """Mirrored contacts of the account, deleted ones included."""
    deleted: int
    excluded_filter: int
    matching: int
    """Not deleted, inside the filters; unsubscribed ones included."""
    unsubscribed: int
    """Of ``matching``: marked unsubscribed in the CRM (sent, kept out of the list)."""
    invalid_email: int
    over_cap: int
    would_send: int
    max_bulk_export: int


def _mirrored(client: redis.Redis, account: str) -> Iterator[MirroredContact]:
    return iter_mirrors(client, account, sorted(mirrored_ids(client, account)))


def build_preview(client: redis.Redis, settings: Settings, account: str) -> PreviewReport:
    """The preview of ``account`` (:class:`shared.accounts.UnknownAccount` if never seen)."""
    config = AccountStore(client, settings).get(account)
    contacts = {m.contact.id: m for m in _mirrored(client, account)}
    members = [Member(cid, m.occurred_at.timestamp(), bulk=True) for cid, m in contacts.items()]
    result = preview(config, members, contacts, initial=True)
    alive = [m for m in contacts.values() if not m.deleted]
    inside = [m for m in alive if matches_filters(config, m)]
    return PreviewReport(
        account=account,
        contacts=len(contacts),
        deleted=len(contacts) - len(alive),
        excluded_filter=len(alive) - len(inside),
        matching=result.matching,
        unsubscribed=sum(m.contact.marketing == "unsubscribed" for m in inside),
        invalid_email=result.invalid_email,
        over_cap=result.over_cap,
        would_send=result.would_send,
        max_bulk_export=config.max_bulk_export,
    )


def kept_preview(client: redis.Redis, settings: Settings, account: str) -> PreviewReport:
    """:func:`build_preview` from the kept counts (:mod:`shared.state.contact_facets`).
    ``contacts`` is every contact id the collector holds, so a mirror that can no longer be
    read (stored before a rule was tightened) counts among ``deleted`` here, where
    :func:`build_preview` leaves it out."""
    config = AccountStore(client, settings).get(account)
    counts = preview_counts(client, account, config.contact_roles, config.company_types,
                            config.max_bulk_export)
    known = int(client.zcard(keys.contact_times(account)))  # type: ignore[arg-type]
    return PreviewReport(
        account=account, contacts=known, deleted=known - counts.contacts,
        excluded_filter=counts.contacts - counts.matching, matching=counts.matching,
        unsubscribed=counts.matching_unsubscribed,
        invalid_email=counts.excluded_invalid_email, over_cap=counts.excluded_over_cap,
        would_send=counts.would_send, max_bulk_export=config.max_bulk_export)


def render(report: PreviewReport) -> Table:
    cap = f"cap {report.max_bulk_export}" if report.max_bulk_export else "no cap"
    table = Table(title=f"Preview of account {report.account!r} as a bulk export ({cap})")
    table.add_column("contacts")
    table.add_column("count", justify="right")
    rows = [
        ("known to the sync (mirrored)", report.contacts),
        ("  deleted in the CRM", report.deleted),
        ("  outside the filters (roles, company types)", report.excluded_filter),
        ("match the filters", report.matching),
        ("  of which unsubscribed (sent, kept out of the list)", report.unsubscribed),
        ("  excluded: empty or invalid email", report.invalid_email),
        ("  excluded: over the cap (held back)", report.over_cap),
        ("would be sent", report.would_send),
    ]
    for label, count in rows:
        table.add_row(label, str(count))
    return table


def preview_cmd(
    account: Annotated[str, typer.Option(
        "--account", "-a", help="The account to preview.")] = DEFAULT_ACCOUNT,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")] = False,
) -> None:
    """How many contacts match the account's filters (unsubscribed ones included), how many
    of those would be excluded (empty or invalid email, over the cap) and how many sent."""
    settings = get_settings()
    client = open_redis(settings)
    try:
        report = kept_preview(client, settings, account)
    except AccountError as error:
        raise fail(str(error)) from None
    if as_json:
        typer.echo(json.dumps(asdict(report), indent=2))
    else:
        Console().print(render(report))
