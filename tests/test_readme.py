"""The README points a new operator at the contract: its relative links lead to files and
headings that exist, the webhook contract they name covers the request, the signature, the
answers and the environment, and it says how long ``make test`` takes."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
LINK = re.compile(r"\]\(([^)#\s]+)(?:#([^)\s]+))?\)")


def _anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_anchor(line.lstrip("#")) for line in path.read_text().splitlines()
            if line.startswith("#")}


def test_every_relative_link_of_the_readme_leads_to_a_file_and_heading() -> None:
    links = [(target, anchor) for target, anchor in LINK.findall(README)
             if not target.startswith(("http://", "https://"))]
    assert links, "the README links no document"
    for target, anchor in links:
        path = ROOT / target
        assert path.exists(), target
        if anchor:
            assert anchor in _anchors(path), f"{target}#{anchor}"


def test_the_readme_links_the_webhook_contract_and_the_served_openapi_document() -> None:
    assert "docs/ARCHITECTURE.md#1-the-contract" in README
    section = (ROOT / "docs/ARCHITECTURE.md").read_text().split("## 1. The contract", 1)[1]
    section = section.split("\n## ", 1)[0]
    for needed in ("POST /v1/contact-events", "X-Sync-Signature", "Answers:", "202", "401",
                   "422", "**Environment.**", "SYNC_WEBHOOK_SECRET"):
        assert needed in section, needed
    assert "`/openapi.json`" in README and "`/docs`" in README


def test_the_readme_says_how_long_make_test_takes() -> None:
    assert re.search(r"`make test` \(about \d+ minutes on 2 cores\)", README)


MISSING_DOCUMENTS = ("DESIGN.md", "klaviyo-api.md")
"""Documents the repository does not have (the project's notes outside it): nothing a user
reads may send them there."""


def test_no_tracked_file_cites_a_document_the_repository_lacks() -> None:
    import subprocess

    for name in MISSING_DOCUMENTS:
        found = subprocess.run(["git", "grep", "-n", "-e", name, "-e", name.removesuffix(".md")
                                + " item", "--", ".", ":!tests/test_readme.py", ":!uv.lock"],
                               cwd=ROOT, capture_output=True, text=True, timeout=60,
                               check=False)
        assert found.stdout == "", found.stdout
