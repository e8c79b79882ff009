"""Wave 3 of the demo: people unsubscribe and bounce inside Klaviyo, and the CRM hears it.

After waves 1 and 2 are in Klaviyo: half of :data:`PEOPLE` synced contacts unsubscribe,
the other half bounce (the sandbox's inspection control, as Klaviyo's own channels would).
The consent pull delivers ``consent.changed`` to a CRM inbox run by the demo (a signed
POST, checked like a CRM would); then the CRM resends those contacts as ``subscribed`` with
a consent time 30 days older than the change, and the sync must not undo it. The rows
checked: each change reached the CRM exactly once with Klaviyo's reason, and after the
resend Klaviyo still holds every unsubscribe and bounce, counted by the sync's report.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from cli.demo import klaviyo_state
from cli.demo.crm_inbox import CrmInbox
from cli.demo.expectations import Expected
from cli.demo.feed import ACCOUNT, Feed
from cli.demo.report import Row
from sandbox.inspect_client import SandboxClient
from shared import constants as keys
from shared.redis_text import optional_float

PEOPLE = 10
"""How many synced contacts change their consent in Klaviyo (half unsubscribe, half bounce)."""
REASONS = {"unsubscribe": "UNSUBSCRIBE", "bounce": "HARD_BOUNCE"}
OLDER = timedelta(days=30)
"""How much older than the Klaviyo change the CRM's resent consent is."""


def _newest_events(feed: Feed) -> dict[str, dict[str, Any]]:
    newest: dict[str, dict[str, Any]] = {}
    for event in feed.events:
        cid = event["contact"]["id"]
        if cid not in newest or event["occurred_at"] >= newest[cid]["occurred_at"]:
            newest[cid] = event
    return newest


def _reachable(profile: Any) -> bool:
    marketing = ((profile.get("attributes") or {}).get("subscriptions") or {}).get(
        "email", {}).get("marketing", {})
    return bool(marketing.get("can_receive_email_marketing"))


def run_wave_3(driver: Any, feed: Feed, expected: Expected, inbox: CrmInbox,
               pull_interval: float) -> list[Row]:
    """Play wave 3 (see the module docstring); the rows of its checks."""
    newest = _newest_events(feed)
    moved = {change.old_email for change in expected.email_changes}
    # one contact per email, never one that changed email: each change is then told once
    # (a profile shared by two CRM contacts is told to each of them)
    chosen = [p for p in sorted(expected.profiles.values(), key=lambda p: p.email)
              if not p.unsubscribed and len(p.contact_ids) == 1 and p.email not in moved
              and newest.get(p.crm_contact_id, {}).get("type") == "contact.upserted"][:PEOPLE]
    sandbox = SandboxClient(driver.at.klaviyo_url, driver.at.klaviyo_key)
    at = datetime.now(UTC).replace(microsecond=0)
    actions: dict[str, str] = {}
    for n, person in enumerate(chosen):
        profile_id = klaviyo_state.profile_id_of(driver.api, person.email)
        if profile_id is None:
            continue
        actions[profile_id] = "unsubscribe" if n % 2 == 0 else "bounce"
        sandbox.change_consent(profile_id, actions[profile_id], at=at)
    driver.console.print(f"Wave 3: {len(actions)} people unsubscribe or bounce in Klaviyo; "
                         "waiting for the consent pull to tell the CRM.", highlight=False)
    timeout = 120 + 4 * pull_interval

    def told() -> set[str]:
        return {d["profile"]["id"] for d in inbox.consent_changes()} & set(actions)

    driver.wait(lambda: told() == set(actions), timeout, "the CRM to hear of every change")
    sent = datetime.now(UTC)
    resend = []
    for person in chosen:
        event = json.loads(json.dumps(newest[person.crm_contact_id]))
        event.update(event_id=f"wave3-{uuid.uuid4().hex[:10]}", occurred_at=sent.isoformat())
        event["contact"].update(marketing="subscribed",
                                marketing_consented_at=(at - OLDER).isoformat())
        resend.append(event)
    before = driver.completed()
    driver.post(resend)
    driver.console.print(f"Wave 3: the CRM resends {len(resend)} of them as subscribed, with "
                         "consent 30 days older than the change.", highlight=False)
    driver.wait(lambda: driver.synced(before), timeout, "the resend to be synced")
    synced_at = time.time()

    def pulled_since() -> bool:
        ended = optional_float(driver.redis.hget(keys.pull_state(ACCOUNT), "pull_ended_at"))
        return ended is not None and ended > synced_at

    driver.wait(pulled_since, timeout, "a consent pull after the resend")
    changes = [d for d in inbox.consent_changes() if d["profile"]["id"] in actions]
    answer: Any = driver.api.Profiles.get_profiles(
        filter=f"any(id,{json.dumps(sorted(actions))})", page_size=100,
        additional_fields_profile=["subscriptions"])
    still_out = sum(1 for item in answer.get("data") or [] if not _reachable(item))
    batches = driver.batches()[before:]

    def counted(name: str) -> int:
        return sum(int((b.get("report") or {}).get(name, 0)) for b in batches)

    bounced = sum(1 for action in actions.values() if action == "bounce")
    return [
        Row("wave 3: people who unsubscribed or bounced in Klaviyo, told to the CRM",
            len(actions), len({d["profile"]["id"] for d in changes})),
        Row("wave 3: consent.changed deliveries (exactly one per change)", len(actions),
            len(changes)),
        Row("wave 3: the same delivery POSTed twice", 0,
            len(changes) - len({d["id"] for d in changes})),
        Row("wave 3: deliveries with Klaviyo's reason and time", len(actions),
            sum(1 for d in changes if d["reason"] == REASONS[actions[d["profile"]["id"]]]
                and d["consent"] == "unsubscribed"
                and datetime.fromisoformat(d["occurred_at"]) == at)),
        Row("wave 3: still unsubscribed or bounced after the CRM's older resend",
            len(actions), still_out),
        Row("wave 3: resend counted consent_older_than_klaviyo, per the sync's report",
            len(actions) - bounced, counted("consent_older_than_klaviyo")),
        Row("wave 3: resend counted consent_hard_bounced, per the sync's report", bounced,
            counted("consent_hard_bounced")),
        Row("wave 3: CRM POSTs refused for a bad signature", 0, inbox.refused),
    ]
