"""The batch plan: filters, validation, the cap, shared emails, unchanged contacts."""

from datetime import UTC, datetime
from typing import Any

from shared.accounts import AccountConfig
from shared.events import Contact, MirroredContact
from shared.planning.planner import (
    Member,
    fingerprint,
    plan_batch,
    preview,
    profile_attributes,
)
from shared.state.synced_contacts import SyncedRecord


def account(**options: Any) -> AccountConfig:
    return AccountConfig(name="acme", klaviyo_base_url="http://sandbox", **options)


def mirrored(cid: str, at: float, origin: str = "webhook", deleted: bool = False,
             **fields: Any) -> MirroredContact:
    fields.setdefault("email", f"{cid.lower()}@example.com")
    return MirroredContact(event_id=f"e-{cid}", occurred_at=datetime.fromtimestamp(at, UTC),
                           deleted=deleted, origin=origin,
                           contact=Contact(id=cid, **fields))


def setup(*contacts: MirroredContact, bulk: set[str] = frozenset()  # type: ignore[assignment]
          ) -> tuple[list[Member], dict[str, MirroredContact]]:
    members = [Member(c.contact.id, c.occurred_at.timestamp(), c.contact.id in bulk)
               for c in contacts]
    return members, {c.contact.id: c for c in contacts}


def test_filters_compare_roles_and_company_types_trimmed_and_case_insensitively() -> None:
    members, contacts = setup(
        mirrored("C1", 1, role=" decision maker ", company={"type": "CUSTOMER"}),
        mirrored("C2", 2, role="Intern", company={"type": "Customer"}),
        mirrored("C3", 3, role="Decision Maker", company=None),
        mirrored("C4", 4, role=None, company={"type": "Customer"}))
    plan = plan_batch(account(contact_roles=["Decision Maker"], company_types=["Customer"]),
                      members, contacts, {}, initial=False)
    assert [row.contact_ids for row in plan.rows] == [["C1"]]
    assert plan.counts["excluded_filter"] == 3
    assert plan.details["C2"]["outcome"] == "excluded_filter"


def test_invalid_and_empty_emails_are_counted_with_a_reason() -> None:
    members, contacts = setup(mirrored("C1", 1, email="not-an-email"),
                              mirrored("C2", 2, email=None), mirrored("C3", 3))
    plan = plan_batch(account(), members, contacts, {}, initial=False)
    assert plan.counts["invalid_email"] == 2
    assert plan.details["C1"]["reason"].startswith("invalid email")
    assert plan.details["C2"]["reason"] == "empty email"


def test_two_contacts_sharing_an_email_become_one_row_with_the_newest_state() -> None:
    members, contacts = setup(mirrored("C1", 1, email="Ann@Example.com", first_name="Old"),
                              mirrored("C2", 5, email=" ann@example.com", first_name="New"))
    plan = plan_batch(account(), members, contacts, {}, initial=False)
    assert len(plan.rows) == 1
    row = plan.rows[0]
    assert row.email == "ann@example.com"
    assert row.contact_ids == ["C2", "C1"]
    assert row.attributes["first_name"] == "New"


def test_the_cap_keeps_the_most_recently_changed_bulk_contacts_and_never_caps_webhook_ones(
        ) -> None:
    members, contacts = setup(*(mirrored(f"B{i}", i, origin="import") for i in range(5)),
                              mirrored("W1", 0.5), bulk={f"B{i}" for i in range(5)})
    plan = plan_batch(account(max_bulk_export=2), members, contacts, {}, initial=False)
    sent = sorted(cid for row in plan.rows for cid in row.contact_ids)
    assert sent == ["B3", "B4", "W1"]
    assert sorted(plan.held_back) == ["B0", "B1", "B2"]
    assert plan.counts["held_back"] == 3


def test_on_the_initial_import_every_contact_counts_against_the_cap() -> None:
    members, contacts = setup(*(mirrored(f"W{i}", i) for i in range(4)))
    plan = plan_batch(account(max_bulk_export=1), members, contacts, {}, initial=True)
    assert [row.contact_ids for row in plan.rows] == [["W3"]]
    assert plan.counts["held_back"] == 3


def test_a_contact_sent_before_with_the_same_data_is_unchanged() -> None:
    contact = mirrored("C1", 1, first_name="Ann")
    members, contacts = setup(contact, mirrored("C2", 2))
    attrs = profile_attributes(contact, "c1@example.com")
    synced = {"C1": SyncedRecord(email="c1@example.com", fingerprint=fingerprint(attrs,
                                                                                 "unknown"))}
    plan = plan_batch(account(), members, contacts, synced, initial=False)
    assert plan.counts["unchanged"] == 1
    assert [row.contact_ids for row in plan.rows] == [["C2"]]
    assert plan.rows[0].first_time


def test_an_email_change_and_a_delete_of_synced_contacts_are_planned() -> None:
    members, contacts = setup(mirrored("C1", 1, email="new@example.com"),
                              mirrored("C2", 2, deleted=True))
    synced = {"C1": SyncedRecord(email="old@example.com"),
              "C2": SyncedRecord(email="c2@example.com", lists=["L1"])}
    plan = plan_batch(account(), members, contacts, synced, initial=False)
    assert [(c.contact_id, c.old_email, c.new_email) for c in plan.email_changes] == [
        ("C1", "old@example.com", "new@example.com")]
    assert plan.deletes == ["C2"]
    assert not plan.rows[0].first_time


def test_an_unsubscribed_contact_is_unsubscribed_once() -> None:
    members, contacts = setup(mirrored("C1", 1, marketing="unsubscribed"),
                              mirrored("C2", 2, marketing="unsubscribed", first_name="X"))
    synced = {"C2": SyncedRecord(email="c2@example.com", marketing="unsubscribed")}
    plan = plan_batch(account(), members, contacts, synced, initial=False)
    assert {row.contact_ids[0]: row.unsubscribe for row in plan.rows} == {"C1": True,
                                                                         "C2": False}


def test_preview_counts_matching_contacts_with_unsubscribed_ones_and_the_exclusions() -> None:
    members, contacts = setup(
        mirrored("C1", 1, marketing="unsubscribed"), mirrored("C2", 2, email="bad"),
        mirrored("C3", 3), mirrored("C4", 4), mirrored("C5", 5, role="Intern"))
    result = preview(account(max_bulk_export=1, contact_roles=None), members, contacts,
                     initial=True)
    assert (result.matching, result.invalid_email, result.over_cap) == (5, 1, 3)
    assert result.would_send == 1
