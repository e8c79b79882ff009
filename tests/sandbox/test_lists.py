"""Lists through the official SDK: create, page, members with joined_group_at, add/remove."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from klaviyo_api import KlaviyoAPI
from openapi_client.exceptions import BadRequestException, NotFoundException

from sandbox.inspect_client import SandboxClient
from tests.sandbox.helpers import make_list, profile_body


def _profiles(klaviyo: KlaviyoAPI, n: int) -> list[str]:
    return [
        klaviyo.Profiles.create_profile(profile_body(email=f"m{i}@example.com")).data.id
        for i in range(n)
    ]


def test_get_lists_pages_ten_at_a_time_with_the_sdks_cursor(klaviyo: KlaviyoAPI) -> None:
    made = {make_list(klaviyo, f"List {i}") for i in range(23)}
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = klaviyo.Lists.get_lists(page_cursor=cursor)
        assert len(page.data) <= 10
        seen += [item.id for item in page.data]
        pages += 1
        if not page.links.next:
            break
        cursor = page.links.next
    assert pages == 3
    assert set(seen) == made and len(seen) == 23


def test_get_list_returns_the_profile_count_when_asked(klaviyo: KlaviyoAPI) -> None:
    list_id = make_list(klaviyo)
    ids = _profiles(klaviyo, 3)
    klaviyo.Lists.add_profiles_to_list(
        list_id, {"data": [{"type": "profile", "id": pid} for pid in ids]}
    )
    answer = klaviyo.Lists.get_list(list_id, additional_fields_list=["profile_count"])
    assert answer.data.attributes.name == "Newsletter"
    assert answer.data.attributes.profile_count == 3
    with pytest.raises(NotFoundException):
        klaviyo.Lists.get_list("XXXXXX")


def test_adding_and_removing_members_answers_204_and_keeps_consent(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    list_id = make_list(klaviyo)
    a, b = _profiles(klaviyo, 2)
    assert (
        klaviyo.Lists.add_profiles_to_list(
            list_id, {"data": [{"type": "profile", "id": a}, {"type": "profile", "id": b}]}
        )
        is None
    )
    first_join = {m["profile_id"]: m["joined_group_at"] for m in sandbox.lists()[0]["members"]}
    klaviyo.Lists.add_profiles_to_list(list_id, {"data": [{"type": "profile", "id": a}]})
    again = {m["profile_id"]: m["joined_group_at"] for m in sandbox.lists()[0]["members"]}
    assert again == first_join  # an existing member keeps its joined_group_at
    assert (
        klaviyo.Lists.remove_profiles_from_list(list_id, {"data": [{"type": "profile", "id": a}]})
        is None
    )
    assert [m["profile_id"] for m in sandbox.lists()[0]["members"]] == [b]
    consent = {
        p["id"]: p["subscriptions"]["email"]["marketing"]["consent"] for p in sandbox.profiles()
    }
    assert consent == {a: "NEVER_SUBSCRIBED", b: "NEVER_SUBSCRIBED"}


def test_more_than_1000_members_in_one_call_is_a_400(klaviyo: KlaviyoAPI) -> None:
    list_id = make_list(klaviyo)
    (pid,) = _profiles(klaviyo, 1)
    with pytest.raises(BadRequestException):
        klaviyo.Lists.add_profiles_to_list(
            list_id, {"data": [{"type": "profile", "id": pid}] * 1001}
        )


def test_list_members_filter_and_sort_on_joined_group_at(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    list_id = make_list(klaviyo)
    ids = _profiles(klaviyo, 3)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for i, pid in enumerate(ids):
        sandbox.add_members(list_id, [pid], base + timedelta(days=i))
    since = (base + timedelta(days=1)).isoformat()
    later = klaviyo.Lists.get_profiles_for_list(
        list_id, filter=f"greater-than(joined_group_at,{since})"
    )
    assert [p.id for p in later.data] == [ids[2]]
    from_day_one = klaviyo.Lists.get_profiles_for_list(
        list_id, filter=f"greater-or-equal(joined_group_at,{since})"
    )
    assert [p.id for p in from_day_one.data] == ids[1:]
    newest_first = klaviyo.Lists.get_profiles_for_list(list_id, sort="-joined_group_at")
    assert [p.id for p in newest_first.data] == ids[::-1]
    assert newest_first.data[0].attributes.joined_group_at == base + timedelta(days=2)
    relations = klaviyo.Lists.get_profile_ids_for_list(
        list_id, filter=f"less-than(joined_group_at,{since})"
    )
    assert [item.id for item in relations.data] == [ids[0]]


def test_list_members_page_with_the_sdks_cursor(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    list_id = make_list(klaviyo)
    ids = _profiles(klaviyo, 25)
    sandbox.add_members(list_id, ids)
    got: list[str] = []
    cursor = None
    while True:
        page = klaviyo.Lists.get_profiles_for_list(list_id, page_size=10, page_cursor=cursor)
        got += [p.id for p in page.data]
        if not page.links.next:
            break
        cursor = page.links.next
    assert sorted(got) == sorted(ids)


def test_a_member_who_leaves_disappears_from_the_list(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    list_id = make_list(klaviyo)
    (pid,) = _profiles(klaviyo, 1)
    sandbox.add_members(list_id, [pid])
    sandbox.remove_members(list_id, [pid])
    assert klaviyo.Lists.get_profiles_for_list(list_id).data == []
