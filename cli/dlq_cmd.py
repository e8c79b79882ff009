"""``contact-sync dlq list|show|replay|purge``: messages that failed for good.

Messages carry ids only (account, batch, chunk); errors are shown masked anyway. With a
RabbitMQ broker every subcommand answers one line saying it is not available there yet.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cli.process_cmds import fail, open_redis
from shared.broker_redis import NOT_ON_RABBITMQ, broker_redis
from shared.settings import get_settings
from shared.state.dead_letters import DeadLetter, DeadLetters

dlq_app = typer.Typer(
    help="Dead letters: list, inspect, replay and purge messages that failed for good.",
    no_args_is_help=True,
)

Queue = Annotated[str | None, typer.Option("--queue", "-q", help="Only this Dramatiq queue.")]
Actor = Annotated[str | None, typer.Option("--actor", help="Only this actor.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _letters() -> DeadLetters:
    broker = broker_redis(open_redis(get_settings()))
    if broker is None:
        raise fail(f"dead letters are {NOT_ON_RABBITMQ}")
    return DeadLetters(broker)


def when(epoch: float) -> str:
    """Epoch seconds as ``2026-11-22 10:00:00Z``."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def list_letters(queue: Queue = None, actor: Actor = None, as_json: AsJson = False) -> None:
    """List dead letters: id, queue, actor, error, failed at, retries, arguments."""
    letters = _letters().list(queue, actor)
    if as_json:
        typer.echo(json.dumps([letter.as_dict() for letter in letters], indent=2))
        return
    if not letters:
        typer.echo("No dead letters.")
        return
    table = Table(title=f"{len(letters)} dead letter(s)")
    for column in ("id", "queue", "call", "error", "failed at", "retries"):
        table.add_column(column, overflow="fold")
    for letter in letters:
        table.add_row(letter.id, letter.queue, letter.arguments, letter.error,
                      when(letter.failed_at), str(letter.retries))
    Console(width=200).print(table)


def _find(letters: DeadLetters, letter_id: str) -> DeadLetter:
    letter = letters.get(letter_id)
    if letter is None:
        raise fail(f"no dead letter with id {letter_id!r} (see 'contact-sync dlq list')")
    return letter


def show(letter_id: Annotated[str, typer.Argument(help="Dead letter id (or message id).")]) -> None:
    """Show one dead letter with its full (masked) traceback."""
    letter = _find(_letters(), letter_id)
    for name, value in letter.as_dict().items():
        if name in ("failed_at", "enqueued_at"):
            value = when(float(value))
        typer.echo(f"{name:12} {value}")
    typer.echo("traceback:")
    typer.echo(letter.traceback or "(none recorded)")


def replay(
    letter_ids: Annotated[list[str] | None, typer.Argument(help="Dead letter ids.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every (matching) dead letter.")] = False,
    queue: Queue = None,
    actor: Actor = None,
) -> None:
    """Put dead letters back on their queue (atomically, age reset, retries cleared)."""
    letters = _letters()
    if all_ == bool(letter_ids):
        raise fail("give dead letter ids, or --all (optionally with --queue/--actor)", code=2)
    if all_:
        count = letters.replay_all(queue, actor)
        typer.echo(f"Replayed {count} dead letter(s).")
        return
    for letter_id in letter_ids or []:
        letter = _find(letters, letter_id)
        if letters.replay(letter):
            typer.echo(f"Replayed {letter.id} ({letter.actor}) onto queue {letter.queue}.")
        else:
            typer.echo(f"{letter.id} was no longer dead (replayed or purged meanwhile).")


def purge(
    queue: Queue = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Delete dead letters for good (all queues, or one); asks unless --yes."""
    letters = _letters()
    counts = letters.count()
    total = counts.get(queue, 0) if queue else sum(counts.values())
    if not total:
        typer.echo("No dead letters.")
        return
    where = f"queue {queue}" if queue else "all queues"
    if not yes and not typer.confirm(f"Delete {total} dead letter(s) of {where} for good?"):
        typer.echo("Nothing deleted.")
        raise typer.Exit(1)
    typer.echo(f"Purged {letters.purge(queue)} dead letter(s).")


dlq_app.command("list")(list_letters)
dlq_app.command("show")(show)
dlq_app.command("replay")(replay)
dlq_app.command("purge")(purge)
