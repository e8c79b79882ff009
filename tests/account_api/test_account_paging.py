"""``GET /v1/accounts`` in pages of a real ``web`` (issue 19, finding 7: 1.7 MB in one
answer at 10k accounts): every account once across the pages, each page bounded."""

from __future__ import annotations

import re

import httpx

from shared import constants as keys
from tests.e2e.pipeline import Pipeline

NEXT = re.compile(r'^<(/v1/accounts\?cursor=\d+&limit=\d+)>; rel="next"$')


def test_accounts_come_in_pages_linked_until_every_one_was_seen(
        api: httpx.Client, api_pipeline: Pipeline) -> None:
    names = {f"paged-{n:04d}" for n in range(1200)}
    api_pipeline.stack.redis.sadd(keys.ACCOUNTS_SET, *names)
    first = api.get("/v1/accounts")
    assert first.status_code == 200
    assert len(first.json()) <= 2 * 100  # the default page size, give or take SSCAN's hint
    seen: list[str] = []
    url: str | None = "/v1/accounts?limit=250"
    pages = 0
    while url:
        answer = api.get(url)
        assert answer.status_code == 200
        page = [item["name"] for item in answer.json()]
        assert len(page) <= 2 * 250
        seen += page
        pages += 1
        link = answer.headers.get("link")
        url = NEXT.match(link).group(1) if link else None  # type: ignore[union-attr]
    assert pages >= 4
    assert names | {"default"} <= set(seen)
    api_pipeline.stack.redis.srem(keys.ACCOUNTS_SET, *names)


def test_a_page_size_beyond_the_maximum_is_a_422_naming_limit(api: httpx.Client) -> None:
    answer = api.get("/v1/accounts?limit=100000")
    assert answer.status_code == 422
    assert [item["field"] for item in answer.json()["errors"]] == ["limit"]
