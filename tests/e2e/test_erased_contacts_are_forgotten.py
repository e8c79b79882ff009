"""Through the real processes: a contact the CRM erases (``contact.erased``, GDPR art. 17)
is erased in Klaviyo, and no Redis value keeps its email, phone or name."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared import constants as keys
from tests.e2e.pipeline import Pipeline, at
from tests.support.process_stack import contact_event

pytestmark = pytest.mark.xdist_group("test_erased_contacts_are_forgotten")
"""The module shares one running stack (tests/e2e/conftest.py): keep it on one worker."""

EMAIL = "annabelle.forgetme@example.com"
PERSON = {"email": EMAIL, "first_name": "Annabelle", "last_name": "Quixotically",
          "phone": "+14155550123", "job_title": "Chief Wanderer",
          "company": {"id": "CO-1", "name": "Acme Ltd", "type": "Customer"}}
TRACES = (b"forgetme", b"Annabelle", b"Quixotically", b"4155550123", b"Wanderer")


def snapshot(pipeline: Pipeline) -> bytes:
    """The bytes of a fresh, uncompressed Redis snapshot (``SAVE``)."""
    pipeline.r.config_set("rdbcompression", "no")
    pipeline.r.save()
    found = pipeline.r.config_get("dir")["dir"], pipeline.r.config_get("dbfilename")["dbfilename"]
    return Path(*found).read_bytes()


def test_an_erased_contact_leaves_klaviyo_and_every_redis_value(pipeline: Pipeline) -> None:
    acme = pipeline.add_account()
    newsletter = pipeline.create_list(acme, "Newsletter")
    pipeline.set_account(acme, "--default-list", newsletter)
    report = pipeline.sync(acme, [pipeline.upsert(acme, "C-1", 1, **PERSON),
                                  pipeline.upsert(acme, "C-2", 1, first_name="Bob")])
    assert report.get("created") == 2
    assert pipeline.profiles(acme)[EMAIL]["phone_number"] == "+14155550123"
    assert all(trace in snapshot(pipeline) for trace in TRACES), "the test must see them"

    erased = contact_event(acme.name, "C-1", at(5), event_type="contact.erased")
    report = pipeline.sync(acme, [erased])

    assert report.get("erased") == 1
    assert set(pipeline.profiles(acme)) == {"c-2@example.com"}
    assert pipeline.members(acme, newsletter) == {"c-2@example.com"}
    data = snapshot(pipeline)
    assert [trace for trace in TRACES if trace in data] == []
    assert pipeline.r.zscore(keys.contact_times(acme.name), "C-1") is not None, \
        "the id and the time of the erasure are kept"


def test_a_change_older_than_the_erasure_is_refused_and_counted(pipeline: Pipeline) -> None:
    acme = pipeline.add_account()
    pipeline.sync(acme, [pipeline.upsert(acme, "C-1", 1, **PERSON)])
    assert pipeline.sync(acme, [contact_event(acme.name, "C-1", at(10),
                                              event_type="contact.erased")]).get("erased") == 1

    late = pipeline.sync(acme, [pipeline.upsert(acme, "C-1", 5, **PERSON)])

    assert late.get("erased") == 1 and not late.get("created") and not late.get("updated")
    assert pipeline.profiles(acme) == {}
    data = snapshot(pipeline)
    assert [trace for trace in TRACES if trace in data] == []

    back = pipeline.sync(acme, [pipeline.upsert(acme, "C-1", 20, **PERSON)])
    assert back.get("created") == 1, "a change after the erasure brings the contact back"


def test_an_erasure_carrying_more_than_the_id_is_refused(pipeline: Pipeline) -> None:
    acme = pipeline.add_account()
    answer = pipeline.stack.post_events([contact_event(
        acme.name, "C-1", at(1), event_type="contact.erased", email=EMAIL)])
    assert answer.status_code == 422
    assert "contact.email" in answer.text and EMAIL not in answer.text
