"""``/docs`` works offline: the Swagger UI page of a real ``web`` names no other host, and
every asset it loads is served by ``web`` itself."""

from __future__ import annotations

import re

import httpx

from tests.support.process_stack import ProcessStack


def test_the_docs_page_loads_its_assets_from_web_and_names_no_other_host(
        process_stack: ProcessStack) -> None:
    process_stack.start("web")
    page = httpx.get(f"{process_stack.web_url}/docs")
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text
    assert not re.findall(r"https?://", page.text), "the page names another host"
    assert "validatorUrl" in page.text  # no badge fetched from validator.swagger.io
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    assert len(assets) >= 3, assets
    for asset in [*assets, *re.findall(r"url: ?'([^']+)'", page.text)]:
        answer = httpx.get(process_stack.web_url + asset)
        assert answer.status_code == 200, asset
    assert "/openapi.json" in page.text
