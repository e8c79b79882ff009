"""``contact-sync sandbox``: the Klaviyo emulator as a foreground server."""

from __future__ import annotations

import signal
from typing import Annotated

import typer


def _parse_limits(value: str) -> str | float:
    if value in ("on", "off"):
        return value
    try:
        scale = float(value)
    except ValueError:
        raise typer.BadParameter(
            "use on, off or a positive scale such as 0.1", param_hint="--rate-limits"
        ) from None
    if scale <= 0:
        raise typer.BadParameter("the scale must be positive", param_hint="--rate-limits")
    return scale


def sandbox(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="Port to listen on (0 = a free one, printed at start).")
    ] = 8080,
    keys: Annotated[
        str, typer.Option(help="Comma-separated API keys; each is its own account.")
    ] = "sandbox-key",
    rate_limits: Annotated[
        str,
        typer.Option(
            "--rate-limits",
            help="on (Klaviyo's limits), off, or a scale such as 0.1 (ten times smaller).",
        ),
    ] = "on",
    fault: Annotated[
        list[str] | None,
        typer.Option(
            help="Inject faults: op=429:0.3,500:0.1,503:0,latency:50,drop:0.01,retry_after:1"
            " (op '*' = all). Repeatable."
        ),
    ] = None,
    public_url: Annotated[
        str | None,
        typer.Option(
            help="Base URL written in links (e.g. https://sandbox.example);"
            " default: the request's host."
        ),
    ] = None,
) -> None:
    """Serve a local Klaviyo API (profiles, lists, bulk import, consent) for the official SDK.

    Point the SDK at it with KlaviyoAPI(key, test_host="http://HOST:PORT"). The inspection API
    lives under /__sandbox/ (reset, keys, limits, faults, calls, account dumps)."""
    from sandbox.faults import parse_fault
    from sandbox.server import SandboxServer, free_port

    limits = _parse_limits(rate_limits)
    faults = {}
    for item in fault or []:
        try:
            operation, spec = parse_fault(item)
        except ValueError as error:
            raise typer.BadParameter(str(error), param_hint="--fault") from None
        faults[operation] = spec
    key_list = [k.strip() for k in keys.split(",") if k.strip()]
    if not key_list:
        raise typer.BadParameter("give at least one key", param_hint="--keys")
    listen_port = port or free_port(host)
    server = SandboxServer(
        host=host,
        port=listen_port,
        keys=key_list,
        rate_limits=limits,
        faults=faults,
        public_url=public_url,
    )
    typer.echo(
        f"Klaviyo sandbox on {server.url} ({len(key_list)} key(s), rate limits {rate_limits});"
        f" inspection API at {server.url}/__sandbox/"
    )
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _signum, _frame: None)
    server.serve_forever()
