"""``contact-sync import FILE --account A``: a CRM export (CSV or JSONL) as a bulk export.

Exit codes: 0 every row imported; 1 a row refused (the good ones are imported), nothing
imported, or the file refused whole (unreadable, bad header, a quote never closed); 2 an
invalid account name, or Redis failed midway. ``--json`` prints one JSON document on
stdout (:func:`summary`) and no progress bar.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

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
from shared.accounts import ACCOUNT_NAME
from shared.settings import get_settings

MAX_REFUSED_SHOWN = 200


def summary(file: Path, account: str, report: ImportReport | None,
            error: str | None = None) -> dict[str, Any]:
    """The ``--json`` document: counts, every refused row (line, field, message) and, when
    the import could not run or finish, ``error``."""
    found = report or ImportReport()
    return {
        "file": str(file), "account": account, "ok": error is None and not found.refused
        and found.imported > 0, "rows_read": found.rows_read, "imported": found.imported,
        "refused_count": len(found.refused),
        "refused": [{"line": row.line, "field": row.field, "message": row.message}
                    for row in found.refused],
        "error": error,
    }


def _fail(console: Console, err: Console, as_json: bool, file: Path, account: str,
          error: Exception, code: int, report: ImportReport | None = None) -> typer.Exit:
    if as_json:
        typer.echo(json.dumps(summary(file, account, report, str(error)), indent=2))
    else:
        if report is not None:
            _print_report(console, report)
        err.print(f"[red]Error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


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
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print a JSON summary (imported, refused rows with line and field) "
        "instead of text; no progress bar.")] = False,
) -> None:
    """Import a CRM export as a bulk export (the account's cap applies at sync time).

    CSV columns: id, email, first_name, last_name, phone, job_title, role, company_id,
    company_name, company_type, marketing, occurred_at; any other column becomes a property.
    JSONL: one contact per line in the webhook's contact shape, optional occurred_at.
    Bad rows are listed with their line number and field; good rows are imported. A CSV
    whose quote is never closed is refused whole, naming the line. Exit code 0 only when
    every row was imported; 1 when any row or the file was refused."""
    console = Console(stderr=False)
    err = Console(stderr=True)
    if not ACCOUNT_NAME.match(account):
        err.print(f"[red]Error:[/] invalid account name {account!r}")
        raise typer.Exit(2)
    try:
        detect_format(file, fmt)
        total = count_lines(file)
    except ImportFileError as error:
        raise _fail(console, err, as_json, file, account, error, 1) from None
    settings = get_settings()
    client = open_redis(settings)
    try:
        with Progress(TextColumn("importing {task.description}"), BarColumn(),
                      MofNCompleteColumn(), TextColumn("lines"), TimeElapsedColumn(),
                      console=err, transient=False, disable=as_json) as progress:
            task = progress.add_task(file.name, total=total)
            report = import_file(client, file, account, fmt,
                                 on_progress=lambda line: progress.update(task, completed=line))
            progress.update(task, completed=total)
    except ImportFileError as error:
        raise _fail(console, err, as_json, file, account, error, 1) from None
    except ImportInterrupted as error:
        raise _fail(console, err, as_json, file, account, error, 2, error.report) from None
    if as_json:
        typer.echo(json.dumps(summary(file, account, report), indent=2))
    else:
        _print_report(console, report)
    if not report.imported:
        if not as_json:
            err.print("[red]nothing imported[/]" + ("" if report.rows_read else
                      f" (no rows; expected columns: {', '.join(CSV_COLUMNS)})"))
        raise typer.Exit(1)
    if report.refused:
        if not as_json:
            err.print(f"[red]{len(report.refused)} rows refused[/] (the {report.imported} "
                      f"others are imported): fix them and import the file again")
        raise typer.Exit(1)
