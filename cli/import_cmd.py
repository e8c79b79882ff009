"""``contact-sync import FILE --account A``: a CRM export (CSV or JSONL) as a bulk export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cli.process_cmds import open_redis
from producers.importer import (
    CSV_COLUMNS,
    ImportFileError,
    ImportInterrupted,
    ImportReport,
    count_lines,
    detect_format,
    import_file,
)
from shared.accounts import ACCOUNT_NAME, AccountStore
from shared.settings import Settings

MAX_REFUSED_SHOWN = 200


def _print_report(console: Console, report: ImportReport) -> None:
    for row in report.refused[:MAX_REFUSED_SHOWN]:
        console.print(f"[yellow]refused[/] {escape(str(row))}", highlight=False, soft_wrap=True)
    if len(report.refused) > MAX_REFUSED_SHOWN:
        console.print(f"... and {len(report.refused) - MAX_REFUSED_SHOWN} more refused rows")
    console.print(
        f"rows read: {report.rows_read}, imported: {report.imported}, "
        f"refused: {len(report.refused)}"
    )


def import_file_cmd(
    file: Annotated[Path, typer.Argument(help="CRM export: .csv (header row) or .jsonl/.ndjson.")],
    account: Annotated[str, typer.Option("--account", "-a", help="The account it belongs to.")],
    fmt: Annotated[str | None, typer.Option(
        "--format", help="csv or jsonl (default: from the file's extension).")] = None,
) -> None:
    """Import a CRM export as a bulk export (the account's cap applies at sync time).

    CSV columns: id, email, first_name, last_name, phone, job_title, role, company_id,
    company_name, company_type, marketing, occurred_at; any other column becomes a property.
    JSONL: one contact per line in the webhook's contact shape, optional occurred_at.
    Bad rows are listed with their line number and field; good rows are imported."""
    console = Console(stderr=False)
    err = Console(stderr=True)
    if not ACCOUNT_NAME.match(account):
        err.print(f"[red]Error:[/] invalid account name {account!r}")
        raise typer.Exit(2)
    try:
        detect_format(file, fmt)
        total = count_lines(file)
    except ImportFileError as error:
        err.print(f"[red]Error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    settings = Settings()
    client = open_redis(settings)
    if not AccountStore(client, settings).exists(account):
        err.print(f"[yellow]warning:[/] account {account!r} has no configuration yet; its "
                  f"contacts are kept and sync once it is added ('contact-sync accounts add "
                  f"{account} --klaviyo-key ...').", highlight=False, soft_wrap=True)
    try:
        with Progress(TextColumn("importing {task.description}"), BarColumn(),
                      MofNCompleteColumn(), TextColumn("lines"), TimeElapsedColumn(),
                      console=err, transient=False) as progress:
            task = progress.add_task(file.name, total=total)
            report = import_file(client, file, account, fmt,
                                 on_progress=lambda line: progress.update(task, completed=line))
            progress.update(task, completed=total)
    except ImportFileError as error:
        err.print(f"[red]Error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except ImportInterrupted as error:
        _print_report(console, error.report)
        err.print(f"[red]Error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    _print_report(console, report)
    if not report.imported:
        err.print("[red]nothing imported[/]" + ("" if report.rows_read else
                  f" (no rows; expected columns: {', '.join(CSV_COLUMNS)})"))
        raise typer.Exit(1)
