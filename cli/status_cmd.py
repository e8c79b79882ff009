"""``contact-sync status [--json] [--watch]``: what the service is doing, for ops."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Annotated, Any

import redis
import typer
from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from cli.process_cmds import fail, open_redis
from shared.settings import get_settings
from shared.state.batch_record import BatchStatus
from shared.state.status_report import account_statuses, build_status, known_accounts
from shared.telemetry.rabbitmq_stats import BrokerUnavailable


def _when(epoch: float | None, now: float) -> str:
    if epoch is None:
        return "-"
    stamp = datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%SZ")
    delta = epoch - now
    relative = f"in {delta:.0f}s" if delta >= 0 else f"{-delta:.0f}s ago"
    return f"{stamp} ({relative})"


WIDTH = 120
"""The widest the queue table gets; every table narrows to the terminal (80 columns lose
nothing: words wrap, figures do not)."""
SHORT_DUE = {"after the running batch": "after this batch",
             "when a contact changes": "on the next change"}
DLQ_HINT = "inspect: contact-sync dlq list; replay: contact-sync dlq replay --all"


def _report(batch: dict[str, Any] | None) -> str:
    if not batch:
        return "-"
    report = batch.get("report") or {}
    failed = batch.get("status") == BatchStatus.FAILED
    if failed and isinstance(report, dict) and report.get("error"):
        return f"{batch.get('batch_id')} failed: {report['error']}"
    figures = ", ".join(f"{k}={v}" for k, v in report.items()) if isinstance(report, dict) else ""
    return f"{batch.get('batch_id')} {batch.get('status')} ({batch.get('size', '?')}) {figures}"


def _klaviyo(item: dict[str, Any], now: float, *, brief: bool = False) -> str:
    """The account's standing with Klaviyo: ok, refused (code, since), list missing."""
    connection = item.get("connection") or {}
    parts = []
    if item.get("unsyncable"):
        parts.append("NOT SYNCABLE" if brief else f"NOT SYNCABLE: {item['unsyncable']}")
    if connection.get("state") == "refused":
        parts.append(f"REFUSED {connection.get('code')}" if brief else
                     f"REFUSED {connection.get('code')} since "
                     f"{_when(connection.get('since'), now)}: {connection.get('detail') or ''}"
                     " -- set a new key with 'contact-sync accounts set NAME --klaviyo-key'")
    if connection.get("state") == "reconnect_needed":
        parts.append("RECONNECT NEEDED" if brief else
                     f"RECONNECT NEEDED since {_when(connection.get('since'), now)}: Klaviyo "
                     "refused the OAuth refresh -- reconnect with "
                     f"'contact-sync accounts connect {item.get('account')}'")
    if item.get("default_list_missing"):
        parts.append("list missing" if brief else
                     f"default list missing ({item['default_list_missing']}; "
                     f"{item.get('owed_default_list', 0)} contacts wait to join a new one)")
    return "; ".join(parts) or "ok"


def _running(batch: dict[str, Any] | None, now: float) -> str:
    if not batch:
        return "-"
    progress = ", ".join(f"{k}={v}" for k, v in (batch.get("progress") or {}).items())
    started = _when(batch.get("started_at"), now)
    return f"{batch['batch_id']} size={batch.get('size')} since {started} {progress}".strip()


def _batch_cell(item: dict[str, Any]) -> str:
    """The running batch with its chunks, or else the last one, in a few words."""
    running = item.get("running")
    if running:
        progress = running.get("progress") or {}
        chunks = (f", {progress.get('chunks_done', 0)}/{progress['chunks_total']} chunks"
                  if "chunks_total" in progress else "")
        return f"running {running['batch_id']} ({running.get('size')}{chunks})"
    last = item.get("last_batch")
    if not last:
        return "-"
    report = last.get("report") or {}
    if last.get("status") == BatchStatus.FAILED:
        return f"failed {last['batch_id']}"
    sent = sum(int(report.get(k, 0)) for k in ("created", "updated")
               if isinstance(report, dict))
    return f"{last.get('status')} {last['batch_id']} ({sent} sent)"


def _due(item: dict[str, Any], now: float) -> str:
    due = str(item["due"])
    if due == "at next_due":
        return _when(item["next_due"], now)
    if due.startswith("retried at next_due"):
        return "retry " + _when(item["next_due"], now)
    if due.startswith("never: "):
        return "never (not syncable)"
    next_due = item.get("next_due")
    if due == "when a contact changes" and next_due is not None and next_due > now:
        # The interval since the last batch has not run out: a change waits for it.
        return f"on a change, from {_when(next_due, now)}"
    return SHORT_DUE.get(due, due)


def _processes(alive: dict[str, int]) -> str:
    return "   ".join(f"{kind}: {count if count else 'NOT RUNNING'}"
                      for kind, count in alive.items())


def render(status: dict[str, Any]) -> Group:
    """The report: the service's processes and queues, then one line per account."""
    now = float(status["at"])
    parts: list[Any] = []
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    parts.append(Text(f"contact-sync status at {stamp}", style="bold"))
    parts.append(Text(f"Processes (heartbeat within 30 s): {_processes(status['processes'])}"))
    throttled = status["throttled"]
    blocked = ", ".join(f"{b['klaviyo_account']}/{b['operation']}" for b in throttled["blocked"])
    per_operation = ", ".join(f"{op}={n}" for op, n in throttled["by_operation"].items())
    dead = status["dead_letters"]
    parts.append(Text.assemble(
        f"Events waiting for a collector: {status['events_backlog']}   "
        f"Dead letters: {dead}{' (' + DLQ_HINT + ')' if dead else ''}   "
        f"Unreadable events: {status['dead_events']}\n",
        f"Klaviyo 429s in the last {throttled['window_seconds'] // 60} min: "
        f"{throttled['count']}{' (' + per_operation + ')' if per_operation else ''}"
        f"{'   blocked now: ' + blocked if blocked else ''}",
    ))
    busy = [q for q in status["queues"] if q["messages"] or q["delayed"] or q["dead"]]
    if busy:
        queues = Table(title="Dramatiq queues", width=WIDTH)
        for column in ("queue", "waiting/in progress", "delayed", "dead letters"):
            queues.add_column(column)
        for queue in busy:
            queues.add_row(queue["queue"], str(queue["messages"]), str(queue["delayed"]),
                           str(queue["dead"]))
        parts.append(queues)
    else:
        parts.append(Text("Dramatiq queues: empty"))
    if status["accounts"]:
        accounts = Table(title="Accounts (details: contact-sync status ACCOUNT)",
                         box=box.SIMPLE_HEAD, title_justify="left")
        # Figures never wrap nor shrink; the words wrap, so 80 columns lose no column.
        for column in ("account", "Klaviyo", "pending", "batch", "next batch", "rejected"):
            figure = column in ("pending", "rejected")
            accounts.add_column(column, no_wrap=figure, min_width=len(column) if figure
                                else None, overflow="fold", max_width=None if figure else 40)
        for item in status["accounts"]:
            pending = str(item["pending"]) + (f" ({item['pending_bulk']} bulk)"
                                              if item["pending_bulk"] else "")
            accounts.add_row(item["account"], _klaviyo(item, now, brief=True), pending,
                             _batch_cell(item), _due(item, now), str(item["rejected"]))
        parts.append(accounts)
    return Group(*parts)


def render_account(item: dict[str, Any], now: float) -> Group:
    """Everything ``status`` knows of one account."""
    rows = [
        ("Klaviyo", _klaviyo(item, now)),
        ("pending", f"{item['pending']} ({item['pending_bulk']} from bulk exports)"),
        ("running batch", _running(item.get("running"), now)),
        ("last batch", _report(item.get("last_batch"))),
        ("next batch", _due(item, now) if not str(item["due"]).startswith("never: ")
         else str(item["due"])),
        ("rejected", f"{item['rejected']} (contact-sync rejected list --account "
                     f"{item['account']})"),
    ]
    last = item.get("last_batch") or {}
    if last.get("status") == BatchStatus.FAILED:
        rows.append(("failed batch", "its contacts went back to pending and wait for the "
                                     f"next batch; dead letters: {DLQ_HINT}"))
    table = Table(title=f"Account {item['account']}", show_header=False)
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    for name, value in rows:
        table.add_row(name, value)
    return Group(table)


def status(
    account: Annotated[str | None, typer.Argument(
        help="Show one account in full.", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")] = False,
    watch: Annotated[bool, typer.Option("--watch", help="Refresh until Ctrl-C.")] = False,
    every: Annotated[float, typer.Option(min=0.2, help="Seconds between refreshes.")] = 2.0,
) -> None:
    """Per account: pending contacts, the running batch, the last report, the next batch;
    queue depths, dead letters, recent Klaviyo 429s."""
    client = open_redis(get_settings())
    if account is not None:
        _one_account(client, account, as_json)
        return
    if as_json:
        typer.echo(json.dumps(_status(client), indent=2, default=str))
        return
    console = Console(width=min(WIDTH, Console().width))
    if not watch:
        console.print(render(_status(client)))
        return
    _watch(client, console, every)


def _status(client: redis.Redis) -> dict[str, Any]:
    """:func:`build_status`; a RabbitMQ broker that does not answer: one line, exit 1."""
    try:
        return build_status(client)
    except BrokerUnavailable as error:
        raise fail(str(error)) from None


def _one_account(client: redis.Redis, account: str, as_json: bool) -> None:
    now = time.time()
    if account not in known_accounts(client):
        typer.echo(f"Unknown account {account!r} (contact-sync accounts list shows them).",
                   err=True)
        raise typer.Exit(1)
    [item] = account_statuses(client, [account], now)
    if as_json:
        typer.echo(json.dumps(item, indent=2, default=str))
    else:
        Console(width=min(WIDTH, Console().width)).print(render_account(item, now))


def _watch(client: redis.Redis, console: Console, every: float) -> None:
    with Live(render(_status(client)), console=console, refresh_per_second=4) as live:
        try:
            while True:
                time.sleep(every)
                try:
                    live.update(render(build_status(client)))
                except redis.RedisError as error:
                    live.update(Text(f"Redis unreachable ({type(error).__name__}); retrying"))
                except BrokerUnavailable as error:
                    live.update(Text(f"{error}; retrying"))
        except KeyboardInterrupt:
            pass
