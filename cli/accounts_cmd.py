"""``contact-sync accounts list|show|add|set|remove``: accounts and their runtime settings.

Klaviyo keys are never printed: only whether one is set. A key, list or base URL given to
``add`` or ``set`` is checked with one call to Klaviyo before anything is stored
(:mod:`shared.account_service.klaviyo_check`; ``--no-check`` skips it).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from cli.process_cmds import fail, open_redis
from shared import constants as keys
from shared.account_service.errors import ServiceError
from shared.accounts import (
    DEFAULT_ACCOUNT,
    AccountConfig,
    AccountError,
    AccountStore,
)

if TYPE_CHECKING:
    from shared.account_service.klaviyo_check import Checked
from shared.secrets_box import SecretKeyInvalid, SecretKeyMissing
from shared.settings import get_settings

accounts_app = typer.Typer(
    help="Accounts: list, show, add, change (filters, cap, list, interval, phone region) and "
    "remove (forget).",
    no_args_is_help=True,
)

Roles = Annotated[str | None, typer.Option(
    "--roles", help="Contact roles that sync, comma-separated; '*' = all.")]
CompanyTypes = Annotated[str | None, typer.Option(
    "--company-types", help="Company types that sync, comma-separated; '*' = all.")]
MaxBulk = Annotated[int | None, typer.Option(
    "--max-bulk-export", help="Cap per bulk export; 0 = none.")]
DefaultList = Annotated[str | None, typer.Option(
    "--default-list", help="Klaviyo list id for first-time contacts; '' = none.")]
Interval = Annotated[float | None, typer.Option(
    "--interval", help="Seconds from a batch's completion to the next.")]
PhoneRegion = Annotated[str | None, typer.Option(
    "--phone-region",
    help="ISO 3166 country (e.g. GB) in which phones without '+' are read; '' = none.")]
BaseUrl = Annotated[str | None, typer.Option(
    "--klaviyo-base-url", help="Klaviyo API root (default: KLAVIYO_BASE_URL).")]
FieldMapFile = Annotated[Path | None, typer.Option(
    "--field-map", dir_okay=False,
    help="A JSON file: Klaviyo target -> CRM source (docs/ACCOUNT_API.md, 'Field map'); "
    "a file holding null removes the map.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
NoCheck = Annotated[bool, typer.Option(
    "--no-check", help="Store the key and list without asking Klaviyo whether they exist "
    "(offline set-up).")]


def _store() -> AccountStore:
    settings = get_settings()
    return AccountStore(open_redis(settings), settings)


def _changes(
    roles: str | None, company_types: str | None, max_bulk_export: int | None,
    default_list: str | None, interval: float | None, base_url: str | None,
    klaviyo_key: str | None = None, *, phone_region: str | None = None,
) -> dict[str, Any]:
    given = {
        "contact_roles": roles, "company_types": company_types,
        "max_bulk_export": max_bulk_export, "default_list_id": default_list,
        "interval": interval, "phone_region": phone_region, "klaviyo_base_url": base_url,
        "klaviyo_api_key": klaviyo_key,
    }
    return {name: value for name, value in given.items() if value is not None}


def _read_field_map(path: Path) -> Any:
    """The JSON of a ``--field-map`` file (checked by the account's rules when stored)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise fail(f"--field-map {path}: not a readable JSON file "
                   f"({type(error).__name__})") from None


def _refusals() -> tuple[type[Exception], ...]:
    return (AccountError, SecretKeyMissing, SecretKeyInvalid)


def _said(checked: Checked | None, list_id: str | None) -> str:
    """What to add about Klaviyo's answer (its warning goes to stderr)."""
    if checked is None:
        return ""
    if checked.warning:
        typer.echo(checked.warning, err=True)
        return ""
    return f"; Klaviyo accepted the key{f' and found list {list_id}' if list_id else ''}"


def _describe(config: AccountConfig, pending: int) -> dict[str, Any]:
    view = config.public_view()
    view["pending"] = pending
    return view


def _time(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _filter(values: list[str] | None) -> str:
    return ", ".join(values) if values else "all"


@accounts_app.command("list")
def list_accounts(as_json: AsJson = False) -> None:
    """Every account: filters, cap, list, interval, phone region, whether a key is set,
    pending changes."""
    store = _store()
    rows = []
    for name in store.names():
        try:
            config = store.get(name)
        except _refusals() as error:
            raise fail(f"{name}: {error}") from None
        rows.append(_describe(config, int(store.redis.zcard(keys.pending(name)))))
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("account", "syncable", "roles", "company types", "cap", "default list",
                  "interval s", "phone region", "Klaviyo key", "pending")
    for row in rows:
        table.add_row(
            row["name"], "yes" if row["syncable"] else "no", _filter(row["contact_roles"]),
            _filter(row["company_types"]), str(row["max_bulk_export"] or "none"),
            row["default_list_id"] or "-", f"{row['interval']:g}", row["phone_region"] or "-",
            row["klaviyo_key"], str(row["pending"]),
        )
    # Not a terminal (a pipe, a test): wide enough that no column is cut.
    Console(width=None if sys.stdout.isatty() else 200).print(table)


@accounts_app.command("show")
def show(name: str, as_json: AsJson = False) -> None:
    """One account's settings and its change log (the key shown only as set / not set)."""
    store = _store()
    try:
        view = _describe(store.get(name), int(store.redis.zcard(keys.pending(name))))
    except _refusals() as error:
        raise fail(str(error)) from None
    from shared.account_service.connection import connection_of

    view["connection"] = connection_of(store.redis, store.get(name)).model_dump(mode="json")
    view["changes"] = store.change_log(name)
    if as_json:
        typer.echo(json.dumps(view, indent=2))
        return
    for field, value in view.items():
        if field in ("changes", "connection"):
            continue
        if field in ("contact_roles", "company_types"):
            value = _filter(value)
        typer.echo(f"{field:>18}: {'-' if value is None else value}")
    connection = view["connection"]
    typer.echo(f"{'connection':>18}: {connection['kind']}, {connection['state']}"
               + (f" ({connection['code']} since {connection['since']})"
                  if connection["state"] != "ok" else ""))
    typer.echo(f"{'changes':>18}:")
    for change in view["changes"]:
        typer.echo(f"  {_time(change['at'])}  {change['field']}: "
                   f"{change['before']!r} -> {change['after']!r}")


def _ask_key() -> str:
    """The key typed at a hidden prompt in a terminal, or the first line of a pipe
    (``... | contact-sync accounts add NAME``); nothing to read is an error saying what to do."""
    if sys.stdin is not None and sys.stdin.isatty():
        key: str = typer.prompt("Klaviyo private API key", hide_input=True)
        return key
    line = sys.stdin.readline().strip() if sys.stdin is not None else ""
    if not line:
        raise fail("no Klaviyo key given and no terminal to ask for it: give "
                   "--klaviyo-key KEY (or pipe the key in)")
    return line


@accounts_app.command("add")
def add(
    name: str,
    klaviyo_key: Annotated[str | None, typer.Option(
        "--klaviyo-key", show_default=False,
        help="The account's Klaviyo private key (stored encrypted). Omitted: asked for "
             "without echo in a terminal, else read from the first line of stdin.")] = None,
    roles: Roles = None, company_types: CompanyTypes = None, max_bulk_export: MaxBulk = None,
    default_list: DefaultList = None, interval: Interval = None, klaviyo_base_url: BaseUrl = None,
    phone_region: PhoneRegion = None, no_check: NoCheck = False,
) -> None:
    """Add an account with its Klaviyo key (needs SYNC_SECRET_KEY) and options; Klaviyo is
    asked whether the key (and --default-list) exist unless --no-check."""
    klaviyo_key = klaviyo_key or _ask_key()
    store = _store()
    options = _changes(roles, company_types, max_bulk_export, default_list, interval,
                       klaviyo_base_url, phone_region=phone_region)
    said = ""
    addable = (name != DEFAULT_ACCOUNT and bool(store.settings.secret_key)
               and not store.exists(name))  # otherwise the store says why, unasked
    if addable and not no_check:
        base = AccountConfig(name=name, klaviyo_base_url=store.settings.klaviyo_base_url)
        try:
            from shared.account_service.changes import check_changes, validated
            from shared.account_service.klaviyo_check import NO_CHECK

            values = validated({**options, "klaviyo_api_key": klaviyo_key})
            said = _said(*check_changes(store.redis, base, values, NO_CHECK))
        except ServiceError as error:
            raise fail(error.for_cli) from None
    try:
        config = store.add(name, klaviyo_key, **options)
    except _refusals() as error:
        raise fail(str(error)) from None
    typer.echo(f"added account {config.name} (Klaviyo key set, stored encrypted{said})")


@accounts_app.command("set")
def set_(
    name: str,
    roles: Roles = None, company_types: CompanyTypes = None, max_bulk_export: MaxBulk = None,
    default_list: DefaultList = None, interval: Interval = None, klaviyo_base_url: BaseUrl = None,
    klaviyo_key: Annotated[str | None, typer.Option(
        "--klaviyo-key", help="Replace the Klaviyo key (needs SYNC_SECRET_KEY).")] = None,
    phone_region: PhoneRegion = None, no_check: NoCheck = False,
    field_map: FieldMapFile = None,
) -> None:
    """Change an account at runtime; the change is logged and wins over the environment.
    A change of roles or company types re-evaluates every contact (a bulk export). A new
    key, list or base URL is checked with Klaviyo first unless --no-check."""
    store = _store()
    changes = _changes(roles, company_types, max_bulk_export, default_list, interval,
                       klaviyo_base_url, klaviyo_key, phone_region=phone_region)
    if field_map is not None:
        changes["field_map"] = _read_field_map(field_map)
    if not changes:
        raise fail("nothing to change: give at least one option")
    try:
        from shared.account_service.changes import change_account
        from shared.account_service.klaviyo_check import NO_CHECK

        change = change_account(store.redis, store.settings, name, changes,
                                check=not no_check, hint=NO_CHECK)
    except ServiceError as error:
        raise fail(error.for_cli) from None
    before, after = change.before, change.after
    said = _said(change.checked, change.list_id)
    if "klaviyo_api_key" in changes:
        typer.echo(f"{name}: Klaviyo key replaced; the next batch tries it")
    changed = [field for field in changes if getattr(before, field) != getattr(after, field)]
    if not changed:
        typer.echo(f"{name}: nothing changed")
        return
    typer.echo(f"{name}: changed {', '.join(changed)}{said}")
    if any(field in ("contact_roles", "company_types") for field in changed):
        pending = int(store.redis.zcard(keys.pending(name)))
        typer.echo(f"{name}: filters changed; every contact is re-evaluated in the next batch "
                   f"({pending} pending, cap {after.max_bulk_export or 'none'})")


@accounts_app.command("remove")
def remove(
    name: str,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Stop syncing an account and forget everything of it here: settings, key, mirrored
    contacts, history (an OAuth grant is revoked at Klaviyo first) -- what
    DELETE /v1/accounts/{account} does."""
    store = _store()
    if not yes:
        typer.confirm(f"Forget account {name}, its stored Klaviyo key and its sync state?",
                      abort=True)
    try:
        from shared.account_service.settings import delete_account

        delete_account(store.redis, store.settings, name)
    except ServiceError as error:
        raise fail(error.for_cli) from None
    typer.echo(f"removed account {name}")


@accounts_app.command("resync")
def resync_cmd(name: str) -> None:
    """Re-send every contact of the account at its next batch (the bulk export cap
    applies), e.g. after a new --field-map -- what POST /v1/accounts/{account}/resync does."""
    from shared.account_service.resync import resync

    store = _store()
    try:
        done = resync(store.redis, store.settings, name)
    except ServiceError as error:
        raise fail(error.for_cli) from None
    typer.echo(f"{name}: {done.detail}")
