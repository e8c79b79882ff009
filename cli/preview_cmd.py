"""``contact-sync preview [--account A] [--json]``: what a bulk export of an account would send.

Counts over every mirrored contact of the account (what the collector holds), decided by
the same rules as a batch (:mod:`shared.screening`, through the account service): the filters, email
validation, the cap. The contacts are treated as one bulk export -- the initial import or the
re-evaluation after a filter change -- so the cap applies. No Klaviyo call is made.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Annotated

import redis
import typer
from rich.console import Console
from rich.table import Table

from cli.process_cmds import fail, open_redis
from shared.account_service.accounts import existing
from shared.account_service.errors import ServiceError
from shared.account_service.preview import preview_counts
from shared.accounts import DEFAULT_ACCOUNT
from shared.settings import Settings, get_settings


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
    consented: int
    """Of ``matching``: subscribed with a consent time (subscribed in Klaviyo when sent)."""
    invalid_email: int
    over_cap: int
    would_send: int
    max_bulk_export: int


def build_preview(client: redis.Redis, settings: Settings, account: str) -> PreviewReport:
    """The preview of ``account`` (:func:`shared.account_service.preview.preview_counts`,
    the same as the account API's); :class:`ServiceError` for an unknown account."""
    counts = preview_counts(client, settings, account)
    return PreviewReport(
        account=account, contacts=counts.contacts, deleted=counts.deleted,
        excluded_filter=counts.excluded_filter, matching=counts.matching,
        unsubscribed=counts.matching_unsubscribed, consented=counts.matching_consented,
        invalid_email=counts.excluded.invalid_email, over_cap=counts.excluded.over_cap,
        would_send=counts.would_send, max_bulk_export=counts.max_bulk_export)


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
        ("  of which consented with a time (subscribed when sent)", report.consented),
        ("  excluded: empty or invalid email", report.invalid_email),
        ("  excluded: over the cap (held back)", report.over_cap),
        ("would be sent", report.would_send),
    ]
    for label, count in rows:
        table.add_row(label, str(count))
    return table


def _next(client: redis.Redis, settings: Settings, account: str, as_json: bool) -> None:
    """``--next``: the dry run of the account's next batch (:mod:`shared.planning.dry_run`)."""
    from shared.planning.dry_run import KINDS, next_sync  # loaded when run (--help)

    try:
        config = existing(client, settings, account)
    except ServiceError as error:
        raise fail(error.for_cli) from None
    found = next_sync(client, config).as_dict()
    if as_json:
        typer.echo(json.dumps(found, indent=2))
        return
    table = Table(title=f"The next batch of account {account!r}, if it started now")
    table.add_column("what")
    table.add_column("contacts", justify="right")
    table.add_row("pending", str(found["contacts"]))
    for kind in KINDS:
        table.add_row(kind, str(found[kind]))
    for reason, count in found["excluded"].items():
        table.add_row(f"  not sent: {reason}", str(count))
    Console().print(table)


def preview_cmd(
    account: Annotated[str, typer.Option(
        "--account", "-a", help="The account to preview.")] = DEFAULT_ACCOUNT,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")] = False,
    next_batch: Annotated[bool, typer.Option(
        "--next", help="Instead: what the account's next batch would do now (a dry run: "
        "nothing written, no Klaviyo call).")] = False,
) -> None:
    """How many contacts match the account's filters (unsubscribed ones included), how many
    of those would be excluded (empty or invalid email, over the cap) and how many sent;
    with --next, what the next batch would do with the pending contacts."""
    settings = get_settings()
    client = open_redis(settings)
    if next_batch:
        _next(client, settings, account, as_json)
        return
    try:
        report = build_preview(client, settings, account)
    except ServiceError as error:
        raise fail(error.for_cli) from None
    if as_json:
        typer.echo(json.dumps(asdict(report), indent=2))
    else:
        Console().print(render(report))
