"""No echo, end to end: contacts the push side put in its default list are not published
back as sign-ups; a person who signs up through a form in the same list is."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.workers.push_harness import push_worker
from tests.workers.reverse.reverse_harness import ReverseAccount


def test_contacts_the_push_side_put_in_the_list_are_not_published_as_sign_ups(
        redis_url: str, acct: ReverseAccount) -> None:
    list_id = acct.create_list("Marketing")
    acct.set(default_list_id=list_id)
    for n in range(3):
        acct.change(f"C-{n}", email=f"Crm-Contact-{n}@Example.com")
    with push_worker(redis_url):
        assert acct.sync()["status"] == "completed"
    form_sign_up = acct.person("reader@example.com")
    acct.sign_up(list_id, [form_sign_up])
    acct.discover()

    result = acct.pull(started=datetime.now(UTC).timestamp())

    members = acct.sandbox.lists(acct.key)[0]["members"]
    assert len(members) == 4  # the three pushed contacts are really in the list
    assert acct.added(list_id) == [form_sign_up]
    assert result[list_id].echoes == 3
