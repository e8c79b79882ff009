"""The inspection API's OAuth controls (``/__sandbox/oauth``, no auth): what the OAuth
server did, the access tokens' lifetime, expiring every token now, and a user uninstalling
the app from an account."""

from __future__ import annotations

from dataclasses import asdict

from sandbox.errors import invalid
from sandbox.http import Reply, Request, Route
from sandbox.inspect_controls import account_of, body_of


def describe(req: Request) -> Reply:
    """``{"access_token_ttl_s", "redirect_uris", "counts": {authorization_code,
    refresh_token, refused, revoked}, "grants": {"live", "revoked"}}``."""
    oauth = req.state.oauth
    revoked = sum(1 for grant in oauth.grants.values() if grant.revoked)
    return Reply(200, {"access_token_ttl_s": oauth.access_token_ttl_s,
                       "redirect_uris": list(oauth.redirect_uris),
                       "counts": asdict(oauth.counts),
                       "grants": {"live": len(oauth.grants) - revoked, "revoked": revoked}})


def configure(req: Request) -> Reply:
    """``{"access_token_ttl_s": N}``: tokens issued from now on live N seconds;
    ``{"redirect_uris": [...]}``: the apps' registered redirect URIs (either or both)."""
    body = body_of(req)
    if "access_token_ttl_s" in body:
        ttl = body["access_token_ttl_s"]
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl <= 0:
            raise invalid("'access_token_ttl_s' must be a positive number.",
                          pointer="/access_token_ttl_s")
        req.state.oauth.access_token_ttl_s = float(ttl)
    if "redirect_uris" in body:
        uris = body["redirect_uris"]
        if not isinstance(uris, list) or not all(
                isinstance(u, str) and u.startswith(("http://", "https://")) for u in uris):
            raise invalid("'redirect_uris' must be a list of absolute http(s) URLs.",
                          pointer="/redirect_uris")
        req.state.oauth.redirect_uris = tuple(uris)
    return describe(req)


def expire(req: Request) -> Reply:
    """Every access token issued so far expires now (refresh tokens still work)."""
    return Reply(200, {"expired": req.state.oauth.expire_tokens()})


def uninstall(req: Request) -> Reply:
    """The account's user removed the app in Klaviyo: its grants (and their tokens) are
    revoked, a refresh is ``invalid_grant``."""
    return Reply(200, {"revoked": req.state.oauth.revoke_account(account_of(req).key)})


_P = "/__sandbox"
OAUTH_CONTROL_ROUTES = [
    Route("GET", _P + "/oauth", "oauth", describe),
    Route("PUT", _P + "/oauth", "oauth", configure),
    Route("POST", _P + "/oauth/expire", "oauth", expire),
    Route("POST", _P + "/accounts/{key}/oauth/revoke", "oauth", uninstall),
]
