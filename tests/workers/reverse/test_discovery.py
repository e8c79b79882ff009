"""Discovery against the sandbox: every page of lists, new and gone lists, found_at kept."""

from __future__ import annotations

from tests.workers.reverse.reverse_harness import ReverseAccount
from workers.reverse.state import known_lists

T0 = 1_800_000_000.0


def test_discovery_follows_every_page_of_lists(acct: ReverseAccount) -> None:
    created = {acct.create_list(f"List {n:02d}") for n in range(23)}

    found = acct.discover(now=T0)

    assert found.seen == 23 and set(found.new) == created
    known = known_lists(acct.r, acct.name)
    assert {k.id for k in known} == created
    assert all(k.found_at == T0 and k.active for k in known)


def test_a_second_discovery_keeps_when_lists_were_first_found(acct: ReverseAccount) -> None:
    first = acct.create_list("First")
    acct.discover(now=T0)
    second = acct.create_list("Second")

    found = acct.discover(now=T0 + 86_400)

    assert found.new == [second]
    found_at = {k.id: k.found_at for k in known_lists(acct.r, acct.name)}
    assert found_at == {first: T0, second: T0 + 86_400}


def test_a_deleted_list_is_marked_gone_and_no_longer_pulled(acct: ReverseAccount) -> None:
    kept, deleted = acct.create_list("Kept"), acct.create_list("Deleted")
    acct.discover(now=T0)
    acct.sandbox.delete_list(deleted, key=acct.key)

    found = acct.discover(now=T0 + 86_400)
    pulled = acct.pull(started=T0 + 86_500)

    assert found.gone == [deleted]
    gone_at = {k.id: k.gone_at for k in known_lists(acct.r, acct.name)}
    assert gone_at == {kept: None, deleted: T0 + 86_400}
    assert list(pulled) == [kept]
