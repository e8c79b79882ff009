"""The demo's CRM: contacts and their change events, the same for the same seed.

Two waves of events, as a CRM would publish them:

wave 1 (the initial load) -- every contact once, with among them:
  roles and company types outside the account's filters, invalid and empty emails, contacts
  sharing an email with an earlier one (another spelling of the same address), unsubscribed
  contacts, and out-of-order updates: an older state of a contact arriving after its newer one;
wave 2 (sent after wave 1 is in Klaviyo, so it is the next batch, one interval later) --
  one email change, contacts becoming unsubscribed, ordinary updates, late updates (older
  than what Klaviyo already holds: they must change nothing), new contacts, a job title
  cleared (null: it must be cleared in Klaviyo), a contact whose role leaves the filters
  (out of the list, profile kept) and an erasure (``contact.erased``: the profile goes).

Profiles that already exist in Klaviyo before the feed (:attr:`Feed.preexisting`): some with
the email of a CRM contact (they must be updated, never duplicated), some the CRM never
mentions (they must stay as they are).

Which contact gets which case is drawn from ``random.Random(seed)``; every case is present
at least once (hence the minimum size :data:`MIN_CONTACTS`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

ROLES = ("Decision Maker", "Buyer", "Influencer")
"""The account's contact roles (``SYNC_CONTACT_ROLES``)."""
COMPANY_TYPES = ("Customer", "Prospect")
"""The account's company types (``SYNC_COMPANY_TYPES``)."""
OTHER_ROLES = ("Intern", "Assistant")
OTHER_COMPANY_TYPES = ("Competitor", "Supplier")
MIN_CONTACTS = 40
ACCOUNT = "default"
STALE_NAME = "Stale"
"""The first name of every out-of-order (older) state: Klaviyo must never show it."""

FIRST_NAMES = ("Ann", "Ben", "Cara", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jia", "Kai",
               "Lea", "Max", "Nia", "Oto", "Pia", "Raj", "Sol", "Tom", "Uma", "Vic", "Wen")
LAST_NAMES = ("Lee", "Okafor", "Silva", "Novak", "Berg", "Khan", "Moreau", "Rossi", "Tanaka",
              "Weber", "Quinn", "Dubois", "Ortiz", "Haas", "Ivanova", "Young")
TITLES = ("Buyer", "Head of Purchasing", "Operations Lead", "CFO", "Office Manager")
START = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
WAVE_2_START = START + timedelta(days=7)


@dataclass(frozen=True)
class ProfileSeed:
    """A profile that exists in Klaviyo before the feed."""

    email: str
    first_name: str


@dataclass
class Feed:
    seed: int
    contacts: int
    waves: list[list[dict[str, Any]]]
    """The events of each wave, in sending order (webhook JSON)."""
    preexisting: list[ProfileSeed]
    invalid_emails: frozenset[str]
    """The email values (stripped) the generator made invalid or empty, on purpose."""
    roles: tuple[str, ...] = ROLES
    company_types: tuple[str, ...] = COMPANY_TYPES

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every event in sending order."""
        return [event for wave in self.waves for event in wave]


@dataclass
class _Builder:
    rng: random.Random
    seed: int
    counter: int = 0
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    times: dict[str, datetime] = field(default_factory=dict)

    def contact(self, number: int, at: datetime, **overrides: Any) -> dict[str, Any]:
        first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
        state: dict[str, Any] = {
            "id": f"C-{number:05d}",
            "email": f"{first}.{last}.{number}@example.com".lower(),
            "first_name": first, "last_name": last,
            "job_title": self.rng.choice(TITLES),
            "role": self.rng.choice(ROLES),
            "company": {"id": f"CO-{number % 97:03d}", "name": f"{last} {number % 97} Ltd",
                        "type": self.rng.choice(COMPANY_TYPES)},
            "marketing": self.rng.choices(("subscribed", "unknown", "unsubscribed"),
                                          (45, 45, 10))[0],
            "properties": {"region": self.rng.choice(("North", "South", "East", "West"))},
        }
        state.update(overrides)
        self.states[state["id"]] = state
        self.times[state["id"]] = at
        return state

    def event(self, state: dict[str, Any], at: datetime) -> dict[str, Any]:
        self.counter += 1
        return {"event_id": f"evt-demo-{self.seed}-{self.counter}", "account_id": ACCOUNT,
                "type": "contact.upserted",
                "occurred_at": at.isoformat().replace("+00:00", "Z"),
                "contact": {**state, "company": dict(state["company"])
                            if state["company"] else None}}

    def erase(self, cid: str, at: datetime) -> dict[str, Any]:
        """The erasure of ``cid`` (its ``contact`` carries the id only)."""
        self.counter += 1
        self.times[cid] = at
        return {"event_id": f"evt-demo-{self.seed}-{self.counter}", "account_id": ACCOUNT,
                "type": "contact.erased", "occurred_at": at.isoformat().replace("+00:00", "Z"),
                "contact": {"id": cid}}

    def change(self, cid: str, at: datetime, **changes: Any) -> dict[str, Any]:
        """An event of ``cid`` with ``changes``; it becomes the contact's state when newer."""
        state = {**self.states[cid], **changes}
        if at > self.times[cid]:
            self.states[cid], self.times[cid] = state, at
        return self.event(state, at)


def _share(count: int, percent: float) -> int:
    return max(1, round(count * percent / 100))


def _take(rng: random.Random, pool: list[str], count: int) -> list[str]:
    chosen = sorted(rng.sample(pool, count))
    for cid in chosen:
        pool.remove(cid)
    return chosen


def _invalid_email(rng: random.Random, number: int, empty: bool) -> str | None:
    if empty:
        return rng.choice((None, "", "   "))
    local = f"contact.{number}"
    return rng.choice((f"{local}.example.com", f"{local}@", f"{local} x@example.com",
                       f"{local}@@example.com", f"@{local}.example.com"))


def generate(contacts: int = 3000, seed: int = 7) -> Feed:
    """The feed of ``contacts`` CRM contacts (at least :data:`MIN_CONTACTS`)."""
    if contacts < MIN_CONTACTS:
        raise ValueError(f"contacts: at least {MIN_CONTACTS}, so that every case is present")
    rng = random.Random(seed)
    build = _Builder(rng, seed)
    new_in_wave_2 = _share(contacts, 3)
    first = [f"C-{n:05d}" for n in range(1, contacts - new_in_wave_2 + 1)]
    pool = list(first)
    role_out = _take(rng, pool, _share(contacts, 6))
    type_out = _take(rng, pool, _share(contacts, 5))
    invalid = _take(rng, pool, _share(contacts, 3))
    empty = _take(rng, pool, _share(contacts, 2))
    eligible = list(pool)  # inside the filters, a valid email
    # Contacts sharing an earlier contact's email: the sharer comes later (newer, sent after).
    later = [cid for cid in pool if eligible.index(cid) >= 3]
    sharers = _take(rng, later, _share(contacts, 4))
    pool = [cid for cid in pool if cid not in sharers]
    bases = {cid: rng.choice([b for b in eligible[: eligible.index(cid)] if b not in sharers])
             for cid in sharers}
    for base in set(bases.values()):
        if base in pool:
            pool.remove(base)
    changed_email = _take(rng, pool, 1)
    becomes_unsubscribed = _take(rng, pool, _share(contacts, 2))
    out_of_order = _take(rng, pool, _share(contacts, 3))
    late = _take(rng, pool, _share(contacts, 3))
    updated = _take(rng, pool, _share(contacts, 4))
    cleared, leaves, erased = (_take(rng, pool, 1) for _ in range(3))
    subscribed = set(changed_email) | set(becomes_unsubscribed) | set(leaves)

    wave_1: list[dict[str, Any]] = []
    stale: list[dict[str, Any]] = []
    invalid_emails: set[str] = set()
    for cid in first:
        number = int(cid[2:])
        at = START + timedelta(seconds=10 * number)
        overrides: dict[str, Any] = {}
        if cid in role_out:
            overrides["role"] = rng.choice(OTHER_ROLES)
        if cid in type_out:
            overrides["company"] = rng.choice((None, {"id": "CO-X", "name": "Rival Inc",
                                                      "type": rng.choice(OTHER_COMPANY_TYPES)}))
        if cid in invalid or cid in empty:
            overrides["email"] = _invalid_email(rng, number, empty=cid in empty)
            invalid_emails.add((overrides["email"] or "").strip())
        if cid in subscribed:
            overrides["marketing"] = "subscribed"
        state = build.contact(number, at, **overrides)
        if cid in bases:
            shared = build.states[bases[cid]]
            local, _, domain = shared["email"].partition("@")
            state["email"] = f"{local.title()}@{domain.upper()}"  # the same address
            state["marketing"] = shared["marketing"]
        wave_1.append(build.event(state, at))
        if cid in out_of_order:  # the older state is sent at the end of the wave
            stale.append(build.change(cid, at - timedelta(hours=1), first_name=STALE_NAME))
    wave_1.extend(stale)

    wave_2: list[dict[str, Any]] = []
    at = WAVE_2_START
    for cid in changed_email:
        old = build.states[cid]["email"]
        wave_2.append(build.change(cid, at, email=old.replace("@example.com", ".new@example.net")))
    for cid in becomes_unsubscribed:
        wave_2.append(build.change(cid, at, marketing="unsubscribed"))
    for cid in updated:
        wave_2.append(build.change(cid, at, job_title="Chief Buyer", last_name="Renamed"))
    for cid in late:
        wave_2.append(build.change(cid, build.times[cid] - timedelta(days=1),
                                   first_name=STALE_NAME))
    for cid in cleared:
        wave_2.append(build.change(cid, at, job_title=None))
    for cid in leaves:
        wave_2.append(build.change(cid, at, role=OTHER_ROLES[0]))
    for cid in erased:
        wave_2.append(build.erase(cid, at))
    for number in range(contacts - new_in_wave_2 + 1, contacts + 1):
        wave_2.append(build.event(build.contact(number, at), at))

    known = sorted(set(eligible) - set(changed_email) - set(sharers) - set(leaves)
                   - set(erased))
    preexisting = [ProfileSeed(build.states[cid]["email"].upper(), "Klaviyo-Old")
                   for cid in rng.sample(known, _share(contacts, 5))]
    preexisting += [ProfileSeed(build.states[cid]["email"], "Klaviyo-Old")
                    for cid in role_out[:2]]
    preexisting += [ProfileSeed(f"klaviyo.only.{n}@example.org", "Klaviyo-Only")
                    for n in range(1, 11)]
    return Feed(seed, contacts, [wave_1, wave_2], preexisting, frozenset(invalid_emails))
