"""The preview's kept counts (shared/state/contact_facets.py), which the account API and
``contact-sync preview`` answer with, say what reading every mirror says
(shared/account_service/preview.py counted_from_mirrors), whatever the contacts, their
changes and their order, and whatever the filters and the cap; mirrors stored before the
compact form are counted too."""

from __future__ import annotations

import os
from typing import Any
from unittest import mock

import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli.preview_cmd import build_preview
from shared import constants as keys
from shared.account_service.preview import counted_from_mirrors
from shared.account_service.preview import preview_counts as service_preview
from shared.accounts import AccountStore
from shared.events import Contact, MirroredContact
from shared.settings import Settings
from shared.state.contact_facets import READY, preview_counts
from shared.state.contact_mirror import is_compact, read_mirrors
from tests.cli.test_preview_cmd import collect

ROLES = ["Buyer", " buyer ", "BUYER", "Decision Maker", "Intern", None, ""]
TYPES = ["Customer", "customer ", "Competitor", None]
EMAILS = ["ok", None, "", "not-an-email", "ann@b.c", " Mixed@Example.COM "]

change = st.fixed_dictionaries({
    "cid": st.sampled_from([f"C-{n}" for n in range(8)]),
    "at": st.integers(0, 30),
    "role": st.sampled_from(ROLES),
    "type": st.sampled_from([*TYPES, "no company"]),
    "marketing": st.sampled_from(["subscribed", "unsubscribed", "unknown"]),
    "email": st.sampled_from(EMAILS),
    "deleted": st.booleans(),
    "consented": st.booleans(),
})
a_filter = st.none() | st.lists(st.sampled_from(["buyer", "Decision Maker ", "INTERN", "",
                                                 "customer", " COMPETITOR"]), max_size=3)


def as_event(item: dict[str, Any]) -> dict[str, Any]:
    cid = item["cid"]
    email = f"{cid.lower()}@example.com" if item["email"] == "ok" else item["email"]
    contact: dict[str, Any] = {"id": cid, "email": email, "role": item["role"],
                               "marketing": item["marketing"]}
    if item["consented"]:
        contact["marketing_consented_at"] = "2026-11-20T10:00:00Z"
    if item["type"] != "no company":
        contact["company"] = {"id": "CO-1", "type": item["type"]}
    return {"event_id": f"evt-{cid}-{item['at']}", "account_id": "default",
            "type": "contact.deleted" if item["deleted"] else "contact.upserted",
            "occurred_at": f"2026-11-22T10:{item['at']:02d}:00Z", "contact": contact}


def the_preview(r: redis.Redis, roles: list[str] | None, types: list[str] | None,
                cap: int) -> tuple[dict[str, int], dict[str, int]]:
    """The counts read from every mirror (the reference), and the kept counts: those the
    account API and ``contact-sync preview`` answer with, and the facets' own."""
    env = {"SYNC_MAX_BULK_EXPORT": str(cap)}
    if roles is not None:
        env["SYNC_CONTACT_ROLES"] = ",".join(roles)
    if types is not None:
        env["SYNC_COMPANY_TYPES"] = ",".join(types)
    with mock.patch.dict(os.environ, env):
        config = Settings()
        full = counted_from_mirrors(r, AccountStore(r, config).get("default"))
        served = service_preview(r, config, "default")
        printed = build_preview(r, config, "default")
    assert served == full  # the account API's answer, deleted and filtered counts included
    assert (printed.matching, printed.deleted, printed.would_send) == (
        full.matching, full.deleted, full.would_send)  # what the command prints
    kept = preview_counts(r, "default", config.contact_roles, config.company_types, cap)
    return ({"matching": full.matching, "unsubscribed": full.matching_unsubscribed,
             "consented": full.matching_consented,
             "invalid": full.excluded.invalid_email, "over_cap": full.excluded.over_cap,
             "would_send": full.would_send, "alive": full.contacts - full.deleted},
            {"matching": kept.matching, "unsubscribed": kept.matching_unsubscribed,
             "consented": kept.matching_consented,
             "invalid": kept.excluded_invalid_email, "over_cap": kept.excluded_over_cap,
             "would_send": kept.would_send, "alive": kept.contacts})


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.lists(change, min_size=1, max_size=25), roles=a_filter, types=a_filter,
       cap=st.sampled_from([0, 1, 2, 5]))
def test_the_kept_counts_equal_the_preview_that_reads_every_mirror(
        redis_url: str, r: redis.Redis, changes: list[dict[str, Any]],
        roles: list[str] | None, types: list[str] | None, cap: int) -> None:
    r.flushall()
    with mock.patch.dict(os.environ, {"REDIS_URL": redis_url}):
        collect(redis_url, r, [as_event(item) for item in changes])
    full, kept = the_preview(r, roles, types, cap)
    assert kept == full


def old_form(r: redis.Redis, cid: str, at: float, **fields: Any) -> None:
    """A mirror as the collector stored it before the compact form (the event's JSON)."""
    from datetime import UTC, datetime
    mirrored = MirroredContact(event_id=f"e-{cid}", deleted=False, origin="webhook",
                               occurred_at=datetime.fromtimestamp(at, UTC),
                               contact=Contact(id=cid, **fields))
    r.set(keys.contact("default", cid), mirrored.model_dump_json())
    r.zadd(keys.contact_times("default"), {cid: at})


def test_mirrors_stored_before_the_compact_form_still_read_and_are_counted_once(
        redis_url: str, r: redis.Redis) -> None:
    old_form(r, "C-1", 1_700_000_000, email="c-1@example.com", role="Buyer",
             marketing="unsubscribed")
    old_form(r, "C-2", 1_700_000_000, email="nope", role="Intern")
    contacts, unreadable = read_mirrors(r, "default", ["C-1", "C-2"])
    assert contacts["C-1"].contact.marketing == "unsubscribed" and not unreadable
    full, kept = the_preview(r, ["buyer"], None, 0)
    assert kept == full == {"matching": 1, "unsubscribed": 1, "consented": 0, "invalid": 0,
                            "over_cap": 0, "would_send": 1, "alive": 2}
    assert is_compact(r.get(keys.contact("default", "C-1")) or "")  # rewritten, counted
    assert r.hget(keys.contact_facets("default"), READY) == "1"
    # a newer change of an old-form contact replaces it once in the counts
    with mock.patch.dict(os.environ, {"REDIS_URL": redis_url}):
        collect(redis_url, r, [as_event({"cid": "C-2", "at": 5, "role": "Buyer",
                                         "type": "no company", "marketing": "unknown",
                                         "email": "ok", "deleted": False,
                                         "consented": True})])
    full, kept = the_preview(r, ["buyer"], None, 0)
    assert kept == full and kept["matching"] == 2 and kept["alive"] == 2
    assert kept["consented"] == 0  # C-2 consented, but its marketing is "unknown"


def test_the_drop_downs_offer_each_role_and_company_type_once_with_its_live_contacts(
        redis_url, r):
    from shared.state.contact_facets import facet_values
    from tests.cli.test_preview_cmd import event

    collect(redis_url, r, [
        event("C-1", "01", role="Buyer"), event("C-2", "02", role=" buyer "),
        event("C-3", "03", role="Buyer", company_type="Competitor"),
        event("C-4", "04", role="Decision Maker"), event("C-5", "05", role=""),
        event("C-6", "06", role="Intern"), event("C-6", "07", kind="contact.deleted"),
    ])
    found = facet_values(r, "default")
    assert found.contact_roles == {"Buyer": 3, "Decision Maker": 1}
    assert found.company_types == {"Competitor": 1, "Customer": 4}
