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


def _parse_key_states(items: list[str]) -> dict[str, str]:
    from sandbox.config import KEY_STATES

    states: dict[str, str] = {}
    for item in items:
        key, _, state = item.partition("=")
        if not key.strip() or state.strip() not in KEY_STATES:
            raise typer.BadParameter(
                f"{item!r}: use KEY=STATE with STATE one of {', '.join(KEY_STATES)}",
                param_hint="--key-state",
            )
        states[key.strip()] = state.strip()
    return states


def _choice(value: str, allowed: tuple[str, ...], hint: str) -> str:
    if value not in allowed:
        raise typer.BadParameter(f"use one of {', '.join(allowed)}", param_hint=hint)
    return value


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
            help="Inject faults: op=429:0.3,500:0.1,503:0,403html:0.2,latency:50,drop:0.01,"
            "retry_after:1,no_retry_after:0.5 (op '*' = all; 403html = a CDN challenge page,"
            " no_retry_after = share of 429s without Retry-After). Repeatable."
        ),
    ] = None,
    bulk_validation: Annotated[
        str,
        typer.Option(
            help="sync: a bulk import job with a bad row is refused whole (400, as Klaviyo);"
            " async: bad rows become import-errors."
        ),
    ] = "sync",
    name_bad_rows: Annotated[
        int, typer.Option(min=0, help="How many bad rows a refusal names (0 = all).")
    ] = 0,
    phone_identity: Annotated[
        bool,
        typer.Option(
            "--phone-identity/--no-phone-identity",
            help="Match profiles by phone number too (a row can rewrite another profile's"
            " email, as Klaviyo).",
        ),
    ] = True,
    one_list_per_job: Annotated[
        bool,
        typer.Option(
            "--one-list-per-job/--many-lists-per-job",
            help="Refuse a bulk import job naming more than one list.",
        ),
    ] = True,
    opaque_job_ids: Annotated[
        bool,
        typer.Option(
            "--opaque-job-ids/--ulid-job-ids", help="Base64-like job ids (as Klaviyo) or ULIDs."
        ),
    ] = True,
    job_mode: Annotated[
        str, typer.Option(help="async (jobs run in the background) or instant.")
    ] = "async",
    job_delay_ms: Annotated[
        int, typer.Option(min=0, help="How long an async job stays queued (ms).")
    ] = 0,
    job_processing_ms: Annotated[
        int, typer.Option(min=0, help="How long an async job then stays processing (ms).")
    ] = 0,
    refuse_email_domain: Annotated[
        list[str] | None,
        typer.Option(
            help="Refuse emails at this domain like invalid ones (stands for Klaviyo's address"
            " rules no client can know). Repeatable."
        ),
    ] = None,
    key_state: Annotated[
        list[str] | None,
        typer.Option(
            help="KEY=ok|revoked|no_scope: a revoked key gets 401 authentication_failed,"
            " a scope-less one 403 permission_denied. Repeatable."
        ),
    ] = None,
    access_token_ttl: Annotated[
        float,
        typer.Option(min=0.1, help="Seconds an OAuth access token lives (Klaviyo: 3600)."),
    ] = 3600.0,
    public_url: Annotated[
        str | None,
        typer.Option(
            help="Base URL written in links (e.g. https://sandbox.example);"
            " default: the request's host."
        ),
    ] = None,
    oauth_redirect_uri: Annotated[
        list[str] | None,
        typer.Option(
            help="A redirect URI registered for the OAuth app (repeatable); default:"
            " http://localhost:8000 and http://127.0.0.1:8000 + /v1/oauth/klaviyo/callback."
        ),
    ] = None,
) -> None:
    """Serve a local Klaviyo API (profiles, lists, bulk import, consent, OAuth) for the SDK.

    Point the SDK at it with KlaviyoAPI(key, test_host="http://HOST:PORT"). The inspection API
    lives under /__sandbox/ (reset, keys, limits, faults, strictness, jobs, calls, account
    dumps, oauth); every switch here can be changed there at run time. OAuth: the app
    sandbox-client / sandbox-secret, at /oauth/authorize, /oauth/token, /oauth/revoke.

    A port that is taken (or not allowed) is one line on stderr and exit code 2, before
    anything starts."""
    from cli.process_cmds import ensure_port_free
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
    if port:
        ensure_port_free(port, host, what="the sandbox")
    listen_port = port or free_port(host)
    server = SandboxServer(
        host=host,
        port=listen_port,
        keys=key_list,
        rate_limits=limits,
        faults=faults,
        public_url=public_url,
        job_mode=_choice(job_mode, ("async", "instant"), "--job-mode"),
        job_delay_ms=job_delay_ms,
        job_processing_ms=job_processing_ms,
        bulk_validation=_choice(bulk_validation, ("sync", "async"), "--bulk-validation"),
        name_bad_rows=name_bad_rows,
        phone_identity=phone_identity,
        one_list_per_job=one_list_per_job,
        opaque_job_ids=opaque_job_ids,
        key_states=_parse_key_states(key_state or []),
        refused_email_domains=refuse_email_domain or (),
        access_token_ttl_s=access_token_ttl,
        oauth_redirect_uris=oauth_redirect_uri or None,
    )
    typer.echo(
        f"Klaviyo sandbox on {server.url} ({len(key_list)} key(s), rate limits {rate_limits});"
        f" inspection API at {server.url}/__sandbox/"
    )
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _signum, _frame: None)
    server.serve_forever()
