"""``contact-sync rejected list|replay``: contacts Klaviyo refused, and re-sending them.

No email or phone is printed: only the contact id and Klaviyo's (masked) reason.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cli.dlq_cmd import when
from cli.process_cmds import fail, open_redis
from shared.account_service import rejections as service
from shared.account_service.errors import ServiceError
from shared.settings import get_settings

rejected_app = typer.Typer(
    help="Contacts Klaviyo refused (with its reason); re-send them once the CRM fixed them.",
    no_args_is_help=True,
)

Account = Annotated[str, typer.Option("--account", "-a", help="The account.")]


def list_rejected(
    account: Account,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List rejected contacts: contact id, Klaviyo's code, the field and detail, batch,
    when."""
    settings = get_settings()
    try:
        rejections = service.rejected(open_redis(settings), settings, account)
    except ServiceError as error:
        raise fail(error.for_cli) from None
    if as_json:
        typer.echo(json.dumps([{**item.model_dump(mode="json"), "at": item.at.timestamp()}
                               for item in rejections], indent=2))
        return
    if not rejections:
        typer.echo(f"{account}: no rejected contacts.")
        return
    table = Table(title=f"{account}: {len(rejections)} rejected contact(s)")
    for column in ("contact", "code", "field", "detail", "batch", "when"):
        table.add_column(column, overflow="fold")
    for item in rejections:
        detail = item.detail or item.title
        table.add_row(item.contact_id, item.code, item.field or "-", detail, item.batch_id,
                      when(item.at.timestamp()))
    Console(width=200).print(table)


def replay(
    account: Account,
    contact_ids: Annotated[list[str] | None, typer.Argument(help="Contact ids.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every rejected contact.")] = False,
) -> None:
    """Put rejected contacts back into pending: the next batch sends them again."""
    if all_ == bool(contact_ids):
        raise fail("give contact ids, or --all", code=2)
    settings = get_settings()
    try:
        done = service.replay(open_redis(settings), settings, account,
                      None if all_ else list(contact_ids or []))
    except ServiceError as error:
        raise fail(error.for_cli) from None
    typer.echo(f"{account}: {len(done.replayed)} contact(s) back in pending for the next "
               "batch.")
    if done.not_rejected:
        typer.echo(f"Not rejected (left alone): {', '.join(done.not_rejected)}")


rejected_app.command("list")(list_rejected)
rejected_app.command("replay")(replay)
