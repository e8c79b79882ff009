"""The compact contact mirror reads back as the models pydantic would have built."""

from __future__ import annotations

from typing import Any

import pytest

from shared.events import Company, Contact, MirroredContact
from shared.state.contact_mirror import decode_mirror, event_mirror

CONTACTS: list[dict[str, Any]] = [
    {"id": "C1", "email": "ann@example.com", "first_name": "Ann", "last_name": "Lee",
     "phone": "+447911123456", "job_title": "Buyer", "role": "Decision Maker",
     "company": {"id": "CO1", "name": "Acme", "type": "Customer"}, "marketing": "subscribed",
     "properties": {"tier": 2, "nested": {"a": [1, None]}}},
    {"id": "C2", "email": None, "first_name": None, "last_name": None, "phone": None,
     "job_title": None, "role": None, "company": None, "marketing": "unknown",
     "properties": {}},
    {"id": "C3", "email": "bob@example.com", "company": {"type": "Prospect"},
     "marketing": "unsubscribed"},
]


def _constructed(mirror: MirroredContact) -> MirroredContact:
    person = mirror.contact
    firm = person.company
    return MirroredContact.model_construct(
        event_id=mirror.event_id, occurred_at=mirror.occurred_at, deleted=mirror.deleted,
        origin=mirror.origin, erased=mirror.erased, contact=Contact.model_construct(
            **{name: getattr(person, name) for name in Contact.model_fields if name != "company"},
            company=(Company.model_construct(id=firm.id, name=firm.name, type=firm.type)
                     if firm else None)))


@pytest.mark.parametrize("contact", CONTACTS, ids=[c["id"] for c in CONTACTS])
def test_a_decoded_mirror_is_the_model_pydantic_would_construct(contact: dict[str, Any]) -> None:
    decoded = decode_mirror(contact["id"], event_mirror(1_800_000_000.5, "contact.updated",
                                                        contact, "import"))
    assert decoded == _constructed(decoded)
    assert decoded.model_dump() == _constructed(decoded).model_dump()
    assert decoded.model_fields_set == _constructed(decoded).model_fields_set
    assert decoded.contact.email == contact.get("email")
    assert decoded.origin == "import" and decoded.occurred_at.timestamp() == 1_800_000_000.5
    assert decoded.model_copy(update={"deleted": True}).deleted is True


def test_an_erasure_is_stored_as_a_tombstone_holding_nothing_but_its_time() -> None:
    stored = event_mirror(1_800_000_000.5, "contact.erased", {"id": "C1"}, "webhook")
    decoded = decode_mirror("C1", stored)
    assert decoded.erased and decoded.deleted
    assert stored.startswith(b"1800000000.5|02|")
    assert decoded.contact.model_dump(exclude_defaults=True) == {"id": "C1"}
