"""``contact-sync demo``: the whole push pipeline on one machine, checked end to end.

Embedded Redis and Klaviyo sandbox, every Procfile process under the supervisor
(:mod:`cli.procfile`), a generated CRM feed (:mod:`cli.demo.feed`) sent through the signed
webhook, and a final table of what the CRM sent against what Klaviyo holds, read back
through the official SDK. Exit 0 only when every row agrees; 1 when one does not (named);
130 on Ctrl-C. Every process is stopped at the end, whatever happened.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from honcho.manager import Manager
from honcho.printer import Printer
from rich.console import Console

from cli.demo import feed
from cli.demo.crm_inbox import CrmInbox
from cli.procfile import LocalStack, build_manager
from shared.redis_server import RedisServerNotFound, free_port

DROPPED_ENV = ("REDIS_URL", "KLAVIYO_API_KEY", "KLAVIYO_BASE_URL", "SENTRY_DSN", "PORT")
"""Never used by the demo, even when set: it must not touch a real Redis or Klaviyo."""
INTERRUPTED = 130
START_WAIT_SECONDS = 60


def demo_env(base: dict[str, str], interval: float,
             crm: CrmInbox | None = None) -> dict[str, str]:
    """The environment of the run: nothing of the caller's Redis, Klaviyo or SYNC_*; the
    consent pull every ``interval`` too, delivering to the demo's CRM inbox."""
    env = {k: v for k, v in base.items() if k not in DROPPED_ENV and not k.startswith("SYNC_")}
    env.update(SYNC_INTERVAL=f"{interval:g}", SYNC_CONTACT_ROLES=",".join(feed.ROLES),
               SYNC_COMPANY_TYPES=",".join(feed.COMPANY_TYPES), PORT=str(free_port()),
               SYNC_LIST_PULL_INTERVAL=f"{interval:g}")
    if crm is not None:
        env.update(SYNC_CRM_WEBHOOK_URL=crm.url, SYNC_CRM_WEBHOOK_SECRET=crm.secret)
    return env


def _stop_processes(manager: Manager) -> None:
    """SIGTERM every process once honcho knows all their pids (it cannot before)."""
    processes: dict[str, Any] = manager._processes  # honcho has no API for it
    deadline = time.monotonic() + START_WAIT_SECONDS
    while time.monotonic() < deadline and not all(
            p.get("pid") is not None or p.get("returncode") is not None
            for p in processes.values()):
        time.sleep(0.1)
    manager.terminate()


class _Run:
    """The driver thread's outcome."""

    def __init__(self) -> None:
        self.code = 1
        self.finished = threading.Event()


def _drive(run: _Run, manager: Manager, stack: LocalStack, console: Console,
           stop: threading.Event, contacts: int, interval: float, seed: int,
           crm: CrmInbox) -> None:
    # Here, not at module level: the driver loads the Klaviyo SDK, which --help does not need.
    from cli.demo import driver as demo_driver
    from cli.demo import expectations, report, wave3

    driver = demo_driver.Driver(demo_driver.Endpoints.of(stack.env), stack.env, console, stop)
    try:
        the_feed = feed.generate(contacts, seed)
        expected = expectations.compute(the_feed)
        console.print(f"CRM feed (seed {seed}): {expected.contacts} contacts, "
                      f"{expected.events} events in {len(the_feed.waves)} waves.")
        facts, state = demo_driver.run(driver, the_feed, expected, interval)
        rows = report.compare(expected, state, facts)
        for line in report.batch_lines(facts):
            console.print(line, highlight=False)
        console.print("(created/updated in these lines are the sync's own counts; for an "
                      "import job of over 300 profiles it estimates them without reading the "
                      "job's profiles back. The table below reads Klaviyo itself.)",
                      style="dim", highlight=False)
        console.print(report.render(rows, "What the CRM sent against what Klaviyo holds "
                                          "(read back through the SDK)"))
        run.code, message = report.verdict(rows)
        console.print(message, style="green" if run.code == 0 else "bold red")
        consent = wave3.run_wave_3(driver, the_feed, expected, crm, interval)
        console.print(report.render(consent, "Wave 3: consent changed in Klaviyo, as the CRM "
                                             "received it"))
        code, message = report.verdict(consent)
        console.print(message.replace("Klaviyo holds what the CRM sent",
                                      "the CRM heard each change once, and kept it"),
                      style="green" if code == 0 else "bold red")
        run.code = max(run.code, code)
    except demo_driver.Interrupted:
        run.code = INTERRUPTED
    except Exception as error:  # reported; every process is still stopped
        if stop.is_set():  # a call cut short by the stop (Ctrl-C, a process that died)
            run.code = INTERRUPTED
        else:
            console.print(f"[bold red]Demo failed:[/] {type(error).__name__}: {error}")
            run.code = 1
    finally:
        driver.close()
        run.finished.set()
        _stop_processes(manager)


def demo(
    contacts: Annotated[int, typer.Option(min=feed.MIN_CONTACTS,
                                          help="CRM contacts in the feed.")] = 3000,
    interval: Annotated[float, typer.Option(
        min=1, help="Seconds from a batch's completion to the next (SYNC_INTERVAL).")] = 10,
    seed: Annotated[int, typer.Option(help="Seed of the generated feed (same seed, same "
                                           "feed).")] = 7,
) -> None:
    """Run everything embedded (Redis, Klaviyo sandbox, web, collector, scheduler, worker),
    send a generated CRM feed through the signed webhook in two waves, and check what
    Klaviyo holds against what the CRM sent; then (wave 3) people unsubscribe and bounce in
    Klaviyo, and the CRM must hear each change once and keep it against an older resend.
    Exit 0 only when everything agrees."""
    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, 110)
    crm = CrmInbox(secrets.token_hex(16))
    try:
        stack = LocalStack(demo_env(dict(os.environ), interval, crm)).start()
    except (RedisServerNotFound, FileNotFoundError) as error:
        crm.close()
        typer.secho(f"Error: {error}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from None
    log_dir = Path(tempfile.mkdtemp(prefix="contact-sync-demo-"))
    log_path = log_dir / "processes.log"
    run = _Run()
    try:
        for note in stack.notes:
            console.print(note, style="cyan", highlight=False)
        console.print(
            f"Interval: {interval:g} s between a batch's completion and the account's next "
            "batch (production default: 900 s). Filters: roles "
            f"{', '.join(feed.ROLES)}; company types {', '.join(feed.COMPANY_TYPES)}.",
            style="bold yellow", highlight=False)
        console.print(f"Processes: {', '.join(stack.processes)}; their output goes to "
                      f"{log_path}. Ctrl-C stops everything.", highlight=False)
        stop = threading.Event()
        with log_path.open("w") as log:
            manager = build_manager(stack.processes, stack.env,
                                    printer=Printer(log, colour=False))
            thread = threading.Thread(
                target=_drive, name="demo-driver", daemon=True,
                args=(run, manager, stack, console, stop, contacts, interval, seed, crm))
            thread.start()
            manager.loop()
            stop.set()
            thread.join(timeout=30)
        if not run.finished.is_set() or run.code == INTERRUPTED:
            if manager.returncode in (130, 143):  # SIGINT, SIGTERM
                console.print("Interrupted: every process is stopped.", style="yellow")
                run.code = INTERRUPTED
            else:
                console.print(f"A process stopped before the end (exit code "
                              f"{manager.returncode}); every process is stopped.", style="red")
                run.code = 1
    finally:
        stack.stop()
        crm.close()
    if run.code == 1 and log_path.exists():
        console.print(f"Process output: {log_path}")
    raise typer.Exit(run.code)
