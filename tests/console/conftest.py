"""A real headless Chromium (Debian's ``chromium``, driven by Playwright; never a browser
downloaded at run time) and one running contact-sync with the console on, per module."""

from __future__ import annotations

import html
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest

from cli.demo.crm_inbox import CrmInbox
from sandbox.app import ASGIApp
from tests.e2e.pipeline import Pipeline, running_pipeline

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
API_TOKEN = "api-token-console-tests"
CONSOLE_TOKEN = "console-operator-token-for-tests"
CONSOLE_SECRET = "console-secret-for-the-browser-tests-0123456789"
CRM_SECRET = "crm-webhook-secret-for-the-console-tests"
PULL_INTERVAL_S = 2
"""The consent pull's interval here (900 s by default): a change made in Klaviyo reaches the
CRM, and the sync screen, within seconds."""
DOCS = Path(__file__).resolve().parents[2] / "docs"
WIDTHS = (1280, 390)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium: run "
                    "scripts/setup as root (it apt-installs it), or apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        found = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                           args=CHROMIUM_ARGS)
        try:
            yield found
        finally:
            found.close()


class FramingPage(BaseHTTPRequestHandler):
    """A site's page that puts ``?src=`` in an iframe (the CRM's settings screen)."""

    def do_GET(self) -> None:
        src = parse_qs(urlsplit(self.path).query).get("src", [""])[0]
        body = (f'<!doctype html><title>CRM</title><iframe id="console" '
                f'src="{html.escape(src)}" width="1200" height="900"></iframe>').encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        pass


@dataclass(frozen=True)
class Sites:
    crm: str
    """The CRM's origin (in SYNC_CONSOLE_FRAME_ANCESTORS)."""
    elsewhere: str
    """Another site's origin."""


@pytest.fixture(scope="module")
def sites() -> Iterator[Sites]:
    """Two real sites on the loopback (Chromium lets no public page frame a local one)."""
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), FramingPage) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield Sites(*(f"http://localhost:{s.server_address[1]}" for s in servers))
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


@pytest.fixture(scope="module")
def crm() -> Iterator[CrmInbox]:
    """The CRM's receiving end of the deliveries (a real HTTP server checking signatures)."""
    inbox = CrmInbox(CRM_SECRET)
    try:
        yield inbox
    finally:
        inbox.close()


@pytest.fixture(scope="module")
def console_pipeline(tmp_path_factory: pytest.TempPathFactory, sites: Sites, crm: CrmInbox,
                     contract_middleware: Callable[[ASGIApp], ASGIApp]) -> Iterator[Pipeline]:
    env = {"SYNC_API_TOKENS": API_TOKEN, "SYNC_CONSOLE_TOKENS": CONSOLE_TOKEN,
           "SYNC_CONSOLE_SECRET": CONSOLE_SECRET, "SYNC_CONSOLE_FRAME_ANCESTORS": sites.crm,
           "SYNC_CRM_WEBHOOK_URL": crm.url, "SYNC_CRM_WEBHOOK_SECRET": CRM_SECRET,
           "SYNC_LIST_PULL_INTERVAL": str(PULL_INTERVAL_S)}
    with running_pipeline(tmp_path_factory.mktemp("stack"), contract_middleware,
                          env=env) as pipeline:
        yield pipeline


@pytest.fixture
def api(console_pipeline: Pipeline) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=console_pipeline.stack.web_url, timeout=60,
                      headers={"Authorization": f"Bearer {API_TOKEN}"}) as client:
        yield client


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) at 1280 px wide."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


def screenshot(page: Any, name: str, tmp: Path, width: int = 1280,
               only: str | None = None) -> Path:
    """Save a full-page screenshot ``width`` px wide (``only``: of that element alone);
    into docs/ too when ``UPDATE_CONSOLE_SCREENSHOTS=1`` (how docs/CONSOLE.md's pictures
    are made)."""
    path = tmp / name
    page.set_viewport_size({"width": width, "height": 900})
    if only:
        page.locator(only).screenshot(path=str(path))
    else:
        page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    if os.environ.get("UPDATE_CONSOLE_SCREENSHOTS") == "1":
        (DOCS / name).write_bytes(path.read_bytes())
    return path


def no_horizontal_overflow(page: Any) -> None:
    """At each of :data:`WIDTHS`, the page is no wider than the window."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(50)
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= width, f"{page.url} is {wide} px wide in a {width} px window"
    page.set_viewport_size({"width": 1280, "height": 900})


def framed(page: Any, origin: str, link: str) -> Any:
    """Open ``origin``'s page that frames ``link``; its frame."""
    page.goto(f"{origin}/settings?src={quote(link, safe='')}")
    page.wait_for_load_state("load")
    [frame] = [f for f in page.frames if f != page.main_frame]
    return frame
