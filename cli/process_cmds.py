"""``contact-sync collector``, ``contact-sync scheduler`` and ``contact-sync sync-now``."""

from __future__ import annotations

import errno
import logging
import signal
import socket
import threading
from typing import Annotated

import redis
import typer

from shared.redis_client import RedisUrlError, connect, describe_redis_error
from shared.settings import Settings, get_settings

log = logging.getLogger(__name__)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` on stderr; the caller raises the returned Exit."""
    typer.secho(f"Error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def open_redis(settings: Settings) -> redis.Redis:
    """The state Redis of ``REDIS_URL``, checked; a clear error when unset or unreachable."""
    if not settings.redis_url:
        raise fail(
            "REDIS_URL is not set. Point it at a Redis server (e.g. redis://localhost:6379/0), "
            "or use 'contact-sync run', which embeds one.", code=2,
        )
    try:
        client = connect(settings.redis_url)
        client.ping()
    except (redis.RedisError, RedisUrlError) as error:
        raise fail(describe_redis_error(error, settings.redis_url), code=2) from None
    return client


def ensure_port_free(port: int, host: str = "0.0.0.0", what: str = "web") -> None:
    """Exit 2 with one line when ``host:port`` cannot be listened on (taken, or not allowed),
    before anything is started."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            sock.bind((host, port))
        except OSError as error:
            taken = error.errno == errno.EADDRINUSE
            reason = "is already in use" if taken else f"cannot be used ({error.strerror})"
            env_hint = " (or PORT)" if what == "web" else ""
            raise fail(f"port {port} on {host} {reason}: {what} cannot listen there; stop what "
                       f"uses it or choose another with --port{env_hint}", code=2) from None


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT: the loop finishes its current step, then stops."""
    stop = threading.Event()

    def handler(signum: int, _frame: object) -> None:
        log.info("received %s; stopping after the current step", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def collector(
    consumer: Annotated[str | None, typer.Option(help="Consumer name (default: host-pid).")] = None,
    count: Annotated[int, typer.Option(min=1, help="Entries read per batch.")] = 500,
    claim_idle: Annotated[float, typer.Option(
        min=0, help="Seconds after which a silent consumer's entries are claimed.")] = 30.0,
) -> None:
    """Read contact events from the stream and keep the newest state of each contact
    (one consumer per ingest stream, in threads, when SYNC_INGEST_SHARDS > 1)."""
    from shared import ingest_shards  # loaded when run (--help)
    from shared.telemetry.startup import start_process
    from workers.intake.collector import Collector, default_consumer_name

    settings = get_settings()
    client = open_redis(settings)
    start_process(settings, "collector")
    stop = stop_on_signals()
    workers = [Collector(client, consumer or default_consumer_name(), count=count,
                         claim_idle_ms=int(claim_idle * 1000), stream=stream)
               for stream in ingest_shards.streams()]
    if len(workers) == 1:
        workers[0].run_forever(stop)
        return
    threads = [threading.Thread(target=worker.run_forever, args=(stop,),
                                name=f"collector-{index}")
               for index, worker in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def scheduler(
    tick: Annotated[float, typer.Option(min=0.05, help="Seconds between ticks.")] = 1.0,
) -> None:
    """Start a sync batch for each account that is due (one at a time per account)."""
    from shared.accounts import AccountStore
    from shared.broker_redis import broker_url
    from shared.telemetry.startup import start_process
    from workers.runtime.broker import setup_broker
    from workers.scheduler import Scheduler

    settings = get_settings()
    client = open_redis(settings)
    start_process(settings, "scheduler")
    assert settings.redis_url is not None
    # the scheduler hands batches to sync_batch through it (SYNC_BROKER_URL)
    setup_broker(settings.redis_url, broker_url(settings))
    runner = Scheduler(client, AccountStore(client, settings))
    runner.run_forever(stop_on_signals(), tick_seconds=tick)


def sync_now(
    account: Annotated[str, typer.Option("--account", "-a", help="The account to sync.")],
) -> None:
    """Make an account's next batch start at the scheduler's next tick, interval or not."""
    from shared.account_service.errors import ServiceError
    from shared.account_service.syncs import sync_now as sync_now_of
    from workers.scheduler import scheduler_alive

    settings = get_settings()
    client = open_redis(settings)
    try:
        answer = sync_now_of(client, settings, account)
    except ServiceError as error:
        raise fail(error.for_cli) from None
    typer.echo(f"{account}: {answer.detail}.")
    if not answer.requested:
        return
    if not scheduler_alive(client):
        typer.secho("warning: no scheduler has ticked lately; start 'contact-sync scheduler'",
                    err=True, fg=typer.colors.YELLOW)
