"""Klaviyo's OAuth endpoints: authorize (with a consent page), token, revoke.

``GET /oauth/authorize`` checks the request (known ``client_id``, a ``redirect_uri``
registered for it, ``response_type=code``, PKCE S256, a scope) and shows the consent page,
where the user signs in with the key of their account (no account is listed: a stranger
must not learn other tenants' keys); its form posts the user's answer to
``POST /oauth/authorize`` (``request``, ``account`` = the key of the account to install the
app in, ``decision`` = ``allow`` or ``deny``), which redirects to ``redirect_uri`` with
``code`` and ``state``, or ``error=access_denied``. A test approves or denies by posting that
form. ``POST /oauth/token`` takes the client in HTTP Basic auth and a form body
(``authorization_code`` with ``code_verifier``, or ``refresh_token``) and answers RFC 6749
JSON; ``POST /oauth/revoke`` revokes a grant by one of its tokens (RFC 7009: always 200).
"""

from __future__ import annotations

import base64
import binascii
import html
from urllib.parse import parse_qsl, urlencode

import orjson

from sandbox.http import Reply, Request, Route
from sandbox.oauth_grants import OAuthRefusal

_JSON = {"Content-Type": "application/json", "Cache-Control": "no-store"}


def _json(status: int, body: object) -> Reply:
    return Reply(status, orjson.dumps(body), dict(_JSON))


def _refusal(err: OAuthRefusal) -> Reply:
    headers = dict(_JSON)
    if err.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="oauth"'
    return Reply(err.status, orjson.dumps({"error": err.error,
                                           "error_description": err.description}), headers)


def _page(status: int, text: str) -> Reply:
    return Reply(status, text.encode(), {"Content-Type": "text/html; charset=utf-8"})


def _form(req: Request) -> dict[str, str]:
    return dict(parse_qsl(req.body.decode("latin-1"), keep_blank_values=True))


def _with_query(url: str, params: dict[str, str]) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


def authorize_page(req: Request) -> Reply:
    """The consent page of a valid authorize request (400 page otherwise: no redirect to an
    unchecked URI, as RFC 6749 §4.1.2.1 asks)."""
    try:
        request_id = req.state.oauth.ask_consent(req.query)
    except OAuthRefusal as err:
        return _page(400, f"<h1>Invalid authorization request</h1><p>{err.error}: "
                          f"{html.escape(err.description)}</p>")
    scope = html.escape(req.query.get("scope", ""))
    return _page(200, f"""<!doctype html><title>Connect to Klaviyo (sandbox)</title>
<h1>Allow {html.escape(req.query["client_id"])} to access your Klaviyo account?</h1>
<p>Scopes: {scope}</p>
<form method="post" action="/oauth/authorize">
<input type="hidden" name="request" value="{request_id}">
<p>Sign in to the Klaviyo account to install the app in: its private key (the sandbox's
stand-in for Klaviyo's login; no other account is shown here).</p>
<input type="password" name="account" autocomplete="off" required>
<button name="decision" value="allow">Allow</button>
<button name="decision" value="deny">Deny</button>
</form>""")


def authorize_answer(req: Request) -> Reply:
    """The consent form's answer: 302 to the app's redirect URI."""
    form = _form(req)
    account = form.get("account")
    if account is not None and account not in req.state.store.accounts:
        return _page(400, "<h1>Sign-in failed: no account has this key</h1>")
    try:
        request, code = req.state.oauth.answer_consent(
            form.get("request", ""), account, form.get("decision") == "allow")
    except OAuthRefusal as err:
        return _page(400, f"<h1>{html.escape(err.description)}</h1>")
    answer = {"code": code} if code else {"error": "access_denied",
                                          "error_description": "The user denied access."}
    if request.state:
        answer["state"] = request.state
    return Reply(302, None, {"Location": _with_query(request.redirect_uri, answer)})


def _basic(req: Request) -> tuple[str | None, str | None]:
    scheme, _, value = req.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        user, _, password = base64.b64decode(value.strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    return user, password


def token(req: Request) -> Reply:
    """The token endpoint: client in Basic auth, form body, RFC 6749 answers."""
    oauth = req.state.oauth
    form = _form(req)
    try:
        client_id = oauth.client(*_basic(req))
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return _json(200, oauth.exchange(client_id, form))
        if grant_type == "refresh_token":
            return _json(200, oauth.refresh(client_id, form))
        raise OAuthRefusal("unsupported_grant_type", f"grant_type {grant_type!r} is not "
                                                     "supported.")
    except OAuthRefusal as err:
        return _refusal(err)


def revoke(req: Request) -> Reply:
    """RFC 7009 revocation: the grant of ``token`` is revoked; 200 even when unknown."""
    try:
        client_id = req.state.oauth.client(*_basic(req))
    except OAuthRefusal as err:
        return _refusal(err)
    req.state.oauth.revoke(client_id, _form(req).get("token", ""))
    return Reply(200, None, {})


OAUTH_ROUTES = [
    Route("GET", "/oauth/authorize", "oauth_authorize", authorize_page),
    Route("POST", "/oauth/authorize", "oauth_consent", authorize_answer),
    Route("POST", "/oauth/token", "oauth_token", token),
    Route("POST", "/oauth/revoke", "oauth_revoke", revoke),
]
