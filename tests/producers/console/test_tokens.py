"""The console's signed tokens: what they carry, and every way one is refused."""

from __future__ import annotations

import pytest

from producers.console import tokens

SECRET = "a-console-secret-of-some-length-0123456789"


def test_a_token_carries_its_kind_account_and_expiry_and_nothing_readable_is_trusted():
    token = tokens.mint(SECRET, "page", "acme", ttl=60, now=1_000)
    claims = tokens.verify(SECRET, token, "page", now=1_050)
    assert (claims.kind, claims.subject, claims.expires) == ("page", "acme", 1_060)
    body, signature = token.split(".")
    forged_body = tokens._b64(tokens._unb64(body).replace(b"acme", b"evil"))
    with pytest.raises(tokens.TokenRefused, match="not signed by this server"):
        tokens.verify(SECRET, f"{forged_body}.{signature}", "page", now=1_050)


@pytest.mark.parametrize(("token", "kind", "now", "why"), [
    (tokens.mint(SECRET, "link", "acme", ttl=60, now=0), "link", 61, "expired"),
    (tokens.mint("another-secret", "link", "acme", ttl=60, now=0), "link", 1,
     "not signed by this server"),
    (tokens.mint(SECRET, "link", "acme", ttl=60, now=0), "page", 1, "not a console page"),
    ("no-dot-at-all", "link", 1, "malformed"),
    ("bm8.c2ln", "link", 1, "not signed by this server"),
    (f"{tokens._b64(b'not json')}.{tokens._b64(tokens._mac(SECRET, 'token', b'not json'))}",
     "link", 1, "malformed"),
])
def test_an_expired_forged_malformed_or_other_kind_token_is_refused(token, kind, now, why):
    with pytest.raises(tokens.TokenRefused, match=why):
        tokens.verify(SECRET, token, kind, now=now)


def test_a_csrf_token_belongs_to_one_session():
    ours = tokens.csrf_token(SECRET, "nonce-1")
    assert tokens.csrf_matches(SECRET, "nonce-1", ours)
    assert not tokens.csrf_matches(SECRET, "nonce-2", ours)
    assert not tokens.csrf_matches(SECRET, "nonce-1", "")
    assert not tokens.csrf_matches(SECRET, "nonce-1", None)
