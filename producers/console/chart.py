"""The sync screen's chart, drawn on the server as SVG (no script, no library): per batch of
the kept history, oldest on the left, the contacts synced (bars, left axis) and how long
the batch took (line, right axis). Presentation attributes only (the console's CSP allows
no inline style)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from shared.account_service.models import SyncSummary

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 56, 16, 36
SYNCED = ("created", "updated", "unchanged")
"""The outcomes that count as synced: the profile is in Klaviyo as the CRM has it."""
BAR, LINE = "#3b6fb6", "#d9822b"


def synced(summary: SyncSummary) -> int:
    return sum(summary.counts.get(name, 0) for name in SYNCED)


def _nice(top: float) -> float:
    """A round axis maximum at or above ``top``."""
    if top <= 0:
        return 1.0
    step = 10 ** (len(str(int(top))) - 1)
    for factor in (1, 2, 2.5, 5, 10):
        if top <= factor * step:
            return float(factor * step)
    return float(10 * step)


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def history_chart(history: Sequence[SyncSummary]) -> str:
    """``history`` newest first (as the account service gives it) as one ``<svg>``."""
    batches = list(reversed(history))
    title = "Contacts synced and duration per batch"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'width="100%" role="img" aria-labelledby="chart-title" class="chart">',
             f'<title id="chart-title">{title}</title>']
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    if not batches:
        parts.append(f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" '
                     f'font-size="14" fill="#555">No sync yet.</text></svg>')
        return "".join(parts)
    top_count = _nice(max(synced(b) for b in batches))
    top_duration = _nice(max(b.duration_s or 0 for b in batches))
    slot = plot_w / len(batches)
    base = TOP + plot_h
    parts.append(f'<line x1="{LEFT}" y1="{base}" x2="{LEFT + plot_w}" y2="{base}" '
                 'stroke="#999"/>')
    for fraction in (0.5, 1.0):
        y = base - plot_h * fraction
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" '
                     'stroke="#e3e3e3"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
                     f'font-size="11" fill="{BAR}">{_number(top_count * fraction)}</text>')
        parts.append(f'<text x="{LEFT + plot_w + 6}" y="{y + 4:.1f}" font-size="11" '
                     f'fill="{LINE}">{_number(top_duration * fraction)} s</text>')
    points = []
    for i, batch in enumerate(batches):
        count = synced(batch)
        height = plot_h * count / top_count
        x = LEFT + i * slot
        label = escape(f"{batch.batch_id}: {count} synced, "
                       f"{batch.duration_s if batch.duration_s is not None else '?'} s")
        parts.append(f'<rect x="{x + slot * 0.15:.1f}" y="{base - height:.1f}" '
                     f'width="{max(1.0, slot * 0.7):.1f}" height="{height:.1f}" '
                     f'fill="{BAR}"><title>{label}</title></rect>')
        if batch.duration_s is not None:
            y = base - plot_h * batch.duration_s / top_duration
            points.append(f"{x + slot / 2:.1f},{y:.1f}")
    if points:
        parts.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="{LINE}" '
                     'stroke-width="2"/>')
        for point in points:
            cx, cy = point.split(",")
            parts.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{LINE}"/>')
    parts.append(f'<text x="{LEFT}" y="{HEIGHT - 10}" font-size="11" fill="{BAR}">'
                 f'■ contacts synced</text>')
    parts.append(f'<text x="{LEFT + plot_w}" y="{HEIGHT - 10}" text-anchor="end" '
                 f'font-size="11" fill="{LINE}">● duration (s) · {len(batches)} '
                 'batches, oldest left</text></svg>')
    return "".join(parts)
