"""The consent ledger: per contact the CRM sent, the consent the sync last knew in Klaviyo.

One hash per account (:func:`shared.constants.consent_ledger`), normalised email -> a small
JSON record ``{"c": [contact ids], "t": first sent, "e": email key, "s": sms key}`` (about
80 bytes). Two writers, one script (``ledger.lua``), and :func:`drop_contacts` for a
contact that no longer has an email (an email change, an erasure):

* the push side (:func:`record_sent`) before it sends a chunk's consent: the contacts, and
  the state it is itself setting (an unsubscribe, a historical subscribe), so a pull never
  reports the sync's own doing back (no echo);
* the consent pull (:func:`LedgerPage`) for each profile it read: a channel whose state
  differs from the record is stored and published as ``consent.changed``, once per change,
  atomically (two pulls reading the same change publish it once). A profile whose email is
  not in the ledger is one the CRM never sent: nothing is published.

Only profiles a pull reads are looked up (one script call each, pipelined a page at a time):
nothing per pull reads every contact.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis

from shared import constants as keys
from shared.consent.klaviyo_state import ChannelState
from shared.emails import normalise_email
from shared.lua_scripts import lua_script
from shared.state import due_accounts

LEDGER = lua_script(__file__, "ledger.lua")
CONSENT_CHANGED = "consent.changed"
FIELDS = {"email": "e", "sms": "s"}
"""The ledger field of each channel."""
STREAM_MAXLEN = 1_000_000
"""As the sign-ups (the same stream): trimmed approximately beyond this many entries."""


@dataclass(frozen=True)
class SentContact:
    """One contact the push side sends, with the consent it sets itself (None: none)."""

    email: str
    contact_id: str
    email_key: str | None = None
    sms_key: str | None = None


def record_sent(client: redis.Redis, account: str, sent: Iterable[SentContact],
                now: float) -> None:
    """Record contacts the push side sends. The first record of an account makes its
    reverse side due at once (:mod:`shared.state.due_accounts`): an account without lists
    would otherwise be looked at again only at the next nightly discovery."""
    args: list[str] = ["sent", repr(now)]
    for item in sent:
        if item.email:
            args += [normalise_email(item.email), item.contact_id, item.email_key or "",
                     item.sms_key or ""]
    if len(args) > 2 and LEDGER(client, keys=[keys.consent_ledger(account),
                                              keys.subscribers_stream(account)], args=args):
        due_accounts.reverse_at(client, account, due_accounts.ASAP, sooner_only=True)


def drop_contacts(client: Any, account: str, emails: Iterable[tuple[str, str]]) -> None:
    """``(email, contact id)`` pairs whose contact no longer has that email (its email
    changed in the CRM, or it was erased): the contact leaves the email's record, which
    goes with its last contact. ``client`` may be a pipeline."""
    args = ["drop"]
    for email, contact_id in emails:
        args += [normalise_email(email), contact_id]
    if len(args) > 1:
        LEDGER(client, keys=[keys.consent_ledger(account), keys.subscribers_stream(account)],
               args=args)


@dataclass(frozen=True)
class SeenProfile:
    """One profile a consent pull read."""

    profile_id: str
    email: str | None
    phone: str | None
    channels: dict[str, ChannelState]


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


class LedgerPage:
    """Compares a page of profiles with the ledger and publishes the changes."""

    def __init__(self, client: redis.Redis, account: str, now: float) -> None:
        self.client = client
        self.account = account
        self.now = now

    def publish(self, profiles: Sequence[SeenProfile]) -> int:
        """One script call per profile with an email, in one pipeline; entries published."""
        pipe = self.client.pipeline(transaction=False)
        calls = 0
        ledger = keys.consent_ledger(self.account)
        stream = keys.subscribers_stream(self.account)
        for profile in profiles:
            if not profile.email:
                continue
            args: list[Any] = ["seen", normalise_email(profile.email), STREAM_MAXLEN,
                               len(profile.channels)]
            for channel, state in profile.channels.items():
                args += [channel, FIELDS[channel], state.key, state.consent, state.reason or "",
                         _iso(state.occurred_at),
                         repr(state.occurred_at.timestamp()) if state.occurred_at else ""]
            args += ["account", self.account, "profile_id", profile.profile_id,
                     "email", profile.email or "", "phone", profile.phone or "",
                     "published_at", repr(self.now)]
            LEDGER(pipe, keys=[ledger, stream], args=args)  # on a cluster too (lua_scripts)
            calls += 1
        if not calls:
            return 0
        return sum(int(found or 0) for found in pipe.execute())
