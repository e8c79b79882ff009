"""The sync screen's chart: one bar per kept batch, oldest on the left, and a line of the
batches' durations; plain SVG that the console's CSP lets through (no style, no script)."""

from __future__ import annotations

import re
from xml.etree import ElementTree

from producers.console.chart import history_chart
from shared.account_service.models import SyncSummary

SVG = "{http://www.w3.org/2000/svg}"


def _sync(n: int, created: int, duration: float | None) -> SyncSummary:
    return SyncSummary(batch_id=f"b-{n}", status="completed", duration_s=duration,
                       counts={"contacts": created + 1, "created": created, "updated": 1,
                               "invalid_email": 1})


def test_each_batch_is_a_bar_of_its_synced_contacts_oldest_first_with_its_duration():
    newest_first = [_sync(3, 30, 4.0), _sync(2, 0, None), _sync(1, 10, 2.0)]
    svg = ElementTree.fromstring(history_chart(newest_first))
    bars = svg.findall(f"{SVG}rect")
    titles = [bar.findtext(f"{SVG}title") or "" for bar in bars]
    assert [title.split(":")[0] for title in titles] == ["b-1", "b-2", "b-3"]
    heights = [float(bar.get("height") or "nan") for bar in bars]
    assert heights[0] < heights[2]
    assert abs(heights[1] - heights[0] / 11) < 0.1  # 1 updated against 10 created + 1
    assert len(svg.findall(f"{SVG}circle")) == 2  # no duration, no point
    assert "11 synced, 2.0 s" in titles[0]


def test_the_chart_has_no_style_or_script_and_says_when_there_is_no_sync():
    drawn = history_chart([_sync(1, 5, 1.0)])
    assert not re.search(r"style=|<script|on\w+=", drawn)
    assert "No sync yet." in history_chart([])
