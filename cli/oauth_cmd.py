"""``contact-sync accounts connect NAME`` / ``accounts disconnect NAME``: an account's OAuth
connection to Klaviyo from the command line, through the same code as ``web``'s routes
(:mod:`shared.klaviyo.oauth_flow`).

``connect`` prints the flow's launch URL on ``web`` (``SYNC_PUBLIC_URL``): open it in your
browser, which ``web`` sends on to Klaviyo with a cookie binding the flow to it; approve,
and Klaviyo sends the browser back to ``web``'s callback, which stores the tokens. The URL
works once, for ten minutes, and only in the browser that opens it first. ``disconnect``
revokes the grant at Klaviyo and forgets the tokens and key.
"""

from __future__ import annotations

from typing import Annotated

import typer

from cli.process_cmds import fail, open_redis
from shared.accounts import AccountError, AccountStore
from shared.secrets_box import SecretKeyInvalid, SecretKeyMissing
from shared.settings import get_settings

ReturnTo = Annotated[str | None, typer.Option(
    "--return-to", help="Where the browser goes once connected (an origin of "
    "SYNC_OAUTH_RETURN_ORIGINS); default: a page of web's saying how it went.")]


def connect(name: str, return_to: ReturnTo = None) -> None:
    """Print the URL that connects account NAME to Klaviyo through OAuth (the app of
    KLAVIYO_OAUTH_CLIENT_ID); the account is created by the connection if new."""
    # The OAuth client (httpx, Sentry) is loaded when used: --help needs none of it.
    from shared.klaviyo.oauth_flow import STATE_TTL_S, start
    from shared.klaviyo.oauth_http import OAuthNotConfigured

    settings = get_settings()
    try:
        url = start(open_redis(settings), settings, name, return_to)
    except (AccountError, OAuthNotConfigured, SecretKeyMissing, SecretKeyInvalid) as error:
        raise fail(str(error)) from None
    typer.echo(f"Open this URL in your browser to connect {name} to Klaviyo (valid once, "
               f"for {STATE_TTL_S // 60} minutes, in the browser that opens it first):")
    typer.echo(url)


def disconnect_cmd(name: str) -> None:
    """Disconnect account NAME from Klaviyo: its OAuth grant is revoked at Klaviyo and its
    tokens and key are forgotten; it stops syncing until it is connected again."""
    from shared.klaviyo.oauth_flow import disconnect
    from shared.klaviyo.oauth_http import OAuthNotConfigured, OAuthUnavailable

    settings = get_settings()
    client = open_redis(settings)
    try:
        AccountStore(client, settings).get(name)
        had_oauth = disconnect(client, settings, name)
    except (AccountError, SecretKeyMissing, SecretKeyInvalid) as error:
        raise fail(str(error)) from None
    except (OAuthUnavailable, OAuthNotConfigured) as error:
        raise fail(f"the grant could not be revoked at Klaviyo ({error}); nothing was "
                   "forgotten, try again") from None
    typer.echo(f"{name}: disconnected from Klaviyo"
               + (" (OAuth grant revoked)" if had_oauth else ""))


def register(app: typer.Typer) -> None:
    """Add ``connect`` and ``disconnect`` to the ``accounts`` commands."""
    app.command("connect")(connect)
    app.command("disconnect")(disconnect_cmd)
