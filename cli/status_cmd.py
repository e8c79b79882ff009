"""``contact-sync status [--json] [--watch]``: what the service is doing, for ops."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Annotated, Any

import redis
import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from cli.process_cmds import open_redis
from shared.settings import Settings
from workers.status_report import build_status


def _when(epoch: float | None, now: float) -> str:
    if epoch is None:
        return "-"
    stamp = datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%SZ")
    delta = epoch - now
    relative = f"in {delta:.0f}s" if delta >= 0 else f"{-delta:.0f}s ago"
    return f"{stamp} ({relative})"


def _report(batch: dict[str, Any] | None) -> str:
    if not batch:
        return "-"
    report = batch.get("report") or {}
    figures = ", ".join(f"{k}={v}" for k, v in report.items()) if isinstance(report, dict) else ""
    return f"{batch.get('batch_id')} {batch.get('status')} ({batch.get('size', '?')}) {figures}"


def _klaviyo(item: dict[str, Any], now: float) -> str:
    """The account's standing with Klaviyo: ok, refused (code, since), list missing."""
    connection = item.get("connection") or {}
    parts = []
    if connection.get("state") == "refused":
        parts.append(f"REFUSED {connection.get('code')} since "
                     f"{_when(connection.get('since'), now)}: {connection.get('detail') or ''}"
                     " -- set a new key with 'contact-sync accounts set NAME --klaviyo-key'")
    if item.get("default_list_missing"):
        parts.append(f"default list missing ({item['default_list_missing']}; "
                     f"{item.get('owed_default_list', 0)} contacts wait to join a new one)")
    return "; ".join(parts) or "ok"


def _running(batch: dict[str, Any] | None, now: float) -> str:
    if not batch:
        return "-"
    progress = ", ".join(f"{k}={v}" for k, v in (batch.get("progress") or {}).items())
    started = _when(batch.get("started_at"), now)
    return f"{batch['batch_id']} size={batch.get('size')} since {started} {progress}".strip()


def render(status: dict[str, Any]) -> Group:
    """The report as rich tables."""
    now = float(status["at"])
    accounts = Table(title="Accounts", expand=True)
    for column in ("account", "Klaviyo", "pending", "running batch", "last batch",
                   "next batch", "rejected"):
        accounts.add_column(column, overflow="fold")
    for item in status["accounts"]:
        due = item["due"]
        if due == "at next_due":
            due = _when(item["next_due"], now)
        elif due.startswith("retried at next_due"):
            due = "retry " + _when(item["next_due"], now)
        pending = str(item["pending"]) + (f" ({item['pending_bulk']} bulk)"
                                          if item["pending_bulk"] else "")
        accounts.add_row(item["account"], _klaviyo(item, now), pending,
                         _running(item["running"], now),
                         _report(item["last_batch"]), due, str(item["rejected"]))
    queues = Table(title="Dramatiq queues")
    for column in ("queue", "waiting/in progress", "delayed", "dead letters"):
        queues.add_column(column)
    for queue in status["queues"]:
        queues.add_row(queue["queue"], str(queue["messages"]), str(queue["delayed"]),
                       str(queue["dead"]))
    throttled = status["throttled"]
    blocked = ", ".join(f"{b['klaviyo_account']}/{b['operation']}" for b in throttled["blocked"])
    per_operation = ", ".join(f"{op}={n}" for op, n in throttled["by_operation"].items())
    summary = Text.assemble(
        f"Events waiting for a collector: {status['events_backlog']}   "
        f"Dead letters: {status['dead_letters']}   "
        f"Unreadable events: {status['dead_events']}   "
        f"Scheduler: {'ticking' if status['scheduler_alive'] else 'NOT RUNNING'}\n",
        f"Klaviyo 429s in the last {throttled['window_seconds'] // 60} min: "
        f"{throttled['count']}{' (' + per_operation + ')' if per_operation else ''}"
        f"{'   blocked now: ' + blocked if blocked else ''}",
    )
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return Group(Text(f"contact-sync status at {stamp}", style="bold"), accounts, queues,
                 summary)


def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")] = False,
    watch: Annotated[bool, typer.Option("--watch", help="Refresh until Ctrl-C.")] = False,
    every: Annotated[float, typer.Option(min=0.2, help="Seconds between refreshes.")] = 2.0,
) -> None:
    """Per account: pending contacts, the running batch, the last report, the next batch;
    queue depths, dead letters, recent Klaviyo 429s."""
    client = open_redis(Settings())
    if as_json:
        typer.echo(json.dumps(build_status(client), indent=2, default=str))
        return
    console = Console()
    if not watch:
        console.print(render(build_status(client)))
        return
    _watch(client, console, every)


def _watch(client: redis.Redis, console: Console, every: float) -> None:
    with Live(render(build_status(client)), console=console, refresh_per_second=4) as live:
        try:
            while True:
                time.sleep(every)
                try:
                    live.update(render(build_status(client)))
                except redis.RedisError as error:
                    live.update(Text(f"Redis unreachable ({type(error).__name__}); retrying"))
        except KeyboardInterrupt:
            pass
