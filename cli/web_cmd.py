"""``contact-sync web``: the webhook (producers) under uvicorn."""

from __future__ import annotations

import signal
from typing import Annotated, Any

import typer

from shared.settings import get_settings

KEEP_ALIVE_SECONDS = 5
"""An idle keep-alive connection is closed after this many seconds (uvicorn's default)."""


def _stop_quietly_on_signals() -> None:
    """uvicorn shuts down gracefully on SIGTERM/SIGINT, then re-raises the signal to the
    handler that was there before; a no-op one makes a clean stop exit 0 (as supervisors,
    honcho and the Procfile checks expect), not -15."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _signum, _frame: None)


def web(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "0.0.0.0",
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default: $PORT or 8000).")
    ] = None,
    workers: Annotated[int, typer.Option(
        min=1, envvar="WEB_CONCURRENCY", help="Worker processes (default: $WEB_CONCURRENCY or 1)."
    )] = 1,
) -> None:
    """Serve the signed webhook POST /v1/contact-events (plus /healthz, /readyz, /metrics).

    Needs SYNC_WEBHOOK_SECRET (comma-separated while rotating) and REDIS_URL."""
    import uvicorn  # here, not at module level: other commands need not load the web stack

    from cli.process_cmds import ensure_port_free
    from producers.webhook import WebhookConfigError, create_app
    from shared.telemetry.startup import start_process

    settings = get_settings()
    ensure_port_free(settings.port if port is None else port, host)  # before anything starts
    try:
        app = create_app(settings)
    except WebhookConfigError as error:
        typer.secho(f"Error: {error}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from None
    start_process(settings, "web")
    from producers.http_protocol import LimitedHttpToolsProtocol

    listen_port = settings.port if port is None else port
    _stop_quietly_on_signals()
    # The limits of docs/SECURITY.md: header size and time, open connections, draining
    # early-refused bodies (the protocol); uvicorn closes idle keep-alive connections.
    limits: dict[str, Any] = {"http": LimitedHttpToolsProtocol,
                              "timeout_keep_alive": KEEP_ALIVE_SECONDS}
    if workers > 1:
        # Each worker process builds its own app from the same environment.
        uvicorn.run("producers.webhook:create_app", factory=True, host=host, port=listen_port,
                    workers=workers, log_config=None, **limits)
    else:
        uvicorn.run(app, host=host, port=listen_port, log_config=None, **limits)
