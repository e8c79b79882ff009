"""``contact-sync lists [--account A] [--json]`` and ``contact-sync lists discover --account A``.

The table shows what the reverse sync knows of each Klaviyo list: found at, gone at, the
last pull, members published so far and the account's next pull. ``discover`` runs a
discovery now, in this process, through the shared rate limiter.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Annotated

import redis
import typer
from rich.console import Console
from rich.table import Table

from cli.process_cmds import fail, open_redis
from shared.accounts import AccountError, AccountStore
from shared.redis_text import optional_float
from shared.settings import Settings, get_settings

lists_app = typer.Typer(help="Klaviyo lists the reverse sync knows; discover new ones.")

AccountOption = Annotated[str | None, typer.Option("--account", "-a",
                                                   help="Only this account.")]


@dataclass(frozen=True)
class ListRow:
    account: str
    list_id: str
    name: str
    found_at: float
    gone_at: float | None
    last_pull_at: float | None
    members_pulled: int
    next_pull_at: float | None


def list_rows(client: redis.Redis, settings: Settings, accounts: list[str]) -> list[ListRow]:
    """One row per known list of the given accounts."""
    from workers.reverse.schedule import ReverseSchedule  # heavy; --help needs none of it
    from workers.reverse.state import known_lists, list_cursor

    schedule = ReverseSchedule(client, settings)
    rows: list[ListRow] = []
    for account in accounts:
        next_pull = schedule.next_pull_at(account)
        for known in known_lists(client, account):
            cursor = list_cursor(client, account, known.id)
            rows.append(ListRow(
                account=account, list_id=known.id, name=known.name, found_at=known.found_at,
                gone_at=known.gone_at, last_pull_at=optional_float(cursor.get("last_pull_at")),
                members_pulled=int(cursor.get("members_pulled") or 0),
                next_pull_at=next_pull if known.active else None))
    return rows


def _when(epoch: float | None, missing: str = "-") -> str:
    if epoch is None:
        return missing
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def render(rows: list[ListRow]) -> Table:
    table = Table(title="Klaviyo lists (reverse sync)")
    for column in ("account", "list", "name", "found at", "last pull", "members pulled",
                   "next pull"):
        table.add_column(column, justify="right" if column == "members pulled" else "left")
    for row in rows:
        next_pull = (f"gone {_when(row.gone_at)}" if row.gone_at is not None
                     else _when(row.next_pull_at, "next scheduler tick"))
        table.add_row(row.account, row.list_id, row.name, _when(row.found_at),
                      _when(row.last_pull_at, "never"), str(row.members_pulled), next_pull)
    return table


def _accounts(client: redis.Redis, settings: Settings, account: str | None) -> list[str]:
    store = AccountStore(client, settings)
    if account is None:
        return store.names()
    try:
        store.get(account)
    except AccountError as error:
        raise fail(str(error)) from None
    return [account]


@lists_app.callback(invoke_without_command=True)
def show_lists(
    ctx: typer.Context,
    account: AccountOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")] = False,
) -> None:
    """Known lists: found at, last pull, members pulled, next pull."""
    if ctx.invoked_subcommand is not None:
        return
    settings = get_settings()
    client = open_redis(settings)
    rows = list_rows(client, settings, _accounts(client, settings, account))
    if as_json:
        typer.echo(json.dumps([asdict(row) for row in rows], indent=2))
    elif not rows:
        typer.echo("No lists known yet: discovery runs nightly at "
                   f"{settings.list_discovery_at} UTC, or now with "
                   "'contact-sync lists discover --account A'.")
    else:
        Console().print(render(rows))


@lists_app.command("discover")
def discover_now(
    account: Annotated[str, typer.Option("--account", "-a", help="The account.")],
) -> None:
    """Discover the account's Klaviyo lists now (every page); new ones are pulled from the
    next pull on."""
    # Here, not at module level: the SDK and the actors are heavy, and --help needs neither.
    from shared.klaviyo.errors import KlaviyoError
    from workers.actors.common import account_config, klaviyo_for
    from workers.reverse.discovery import discover

    settings = get_settings()
    client = open_redis(settings)
    _accounts(client, settings, account)
    try:
        klaviyo = klaviyo_for(client, account_config(client, account))
        found = discover(client, klaviyo, account, datetime.now(UTC).timestamp())
    except (KlaviyoError, AccountError) as error:
        raise fail(f"discovery of {account!r} failed: {error}") from None
    typer.echo(f"Discovered {found.seen} list(s) of {account!r}: {len(found.new)} new, "
               f"{len(found.gone)} gone.")
