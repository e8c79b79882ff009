"""``contact-sync run``: every Procfile process under one supervisor (honcho)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from cli.procfile import LocalStack, build_manager
from shared.redis_server import RedisServerNotFound


def run(
    port: Annotated[
        int | None, typer.Option(help="Port of the web process (default: $PORT or 8000).")
    ] = None,
) -> None:
    """Run web, collector, scheduler and worker together (the Procfile), with an embedded
    Redis and Klaviyo sandbox when REDIS_URL / KLAVIYO_API_KEY are unset. Ctrl-C stops all."""
    env = dict(os.environ)
    if port is not None:
        env["PORT"] = str(port)
    try:
        stack = LocalStack(env).start()
    except (RedisServerNotFound, FileNotFoundError) as error:
        typer.secho(f"Error: {error}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from None
    try:
        for note in stack.notes:
            typer.secho(note, fg=typer.colors.CYAN)
        typer.secho(
            f"Starting {', '.join(stack.processes)}; web on port {stack.env['PORT']}. "
            "Ctrl-C stops everything.",
            fg=typer.colors.CYAN,
        )
        manager = build_manager(stack.processes, stack.env)
        manager.loop()
    finally:
        stack.stop()
    raise typer.Exit(manager.returncode or 0)
