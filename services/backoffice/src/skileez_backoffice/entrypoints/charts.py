"""Bar charts drawn on the server as SVG: no script, no library, no network; the table beside
each chart carries the same figures for screen readers and for copying."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from skileez_web.money import format_amount

WIDTH = 640
HEIGHT = 260
LEFT = 90
"""Room for the value labels of the axis."""
BOTTOM = 40
"""Room for the group labels under the bars."""
TOP = 16
MAX_STEP = 90
"""The widest a bar's slot grows, so that a few bars do not look like walls."""


def bar_chart(title: str, bars: Sequence[tuple[str, int]], currency: str) -> Markup:
    """One bar per (label, amount in minor units), negative ones below the zero line."""
    high = max([0, *(value for _, value in bars)])
    low = min([0, *(value for _, value in bars)])
    span = (high - low) or 1
    plot = HEIGHT - TOP - BOTTOM

    def y(value: int) -> float:
        return TOP + (high - value) * plot / span

    zero = y(0)
    step = min((WIDTH - LEFT - 10) / max(len(bars), 1), MAX_STEP)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img"'
        f' aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<line class="axis" x1="{LEFT}" y1="{zero:.1f}" x2="{WIDTH - 5}" y2="{zero:.1f}"/>',
        f'<text x="{LEFT - 6}" y="{y(high) + 4:.1f}" text-anchor="end">'
        f"{escape(format_amount(high, currency))}</text>",
    ]
    if low < 0:
        parts.append(
            f'<text x="{LEFT - 6}" y="{y(low) + 4:.1f}" text-anchor="end">'
            f"{escape(format_amount(low, currency))}</text>"
        )
    parts.append(f'<text x="{LEFT - 6}" y="{zero + 4:.1f}" text-anchor="end">0</text>')
    label_every = max(1, len(bars) // 12)
    for index, (label, value) in enumerate(bars):
        x = LEFT + index * step + step * 0.15
        top, bottom = sorted((y(value), zero))
        kind = "bar negative" if value < 0 else "bar"
        parts.append(
            f'<rect class="{kind}" x="{x:.1f}" y="{top:.1f}" width="{step * 0.7:.1f}"'
            f' height="{max(bottom - top, 0.5):.1f}">'
            f"<title>{escape(label)}: {escape(format_amount(value, currency))}</title></rect>"
        )
        if index % label_every == 0:
            parts.append(
                f'<text x="{x + step * 0.35:.1f}" y="{HEIGHT - BOTTOM + 16}"'
                f' text-anchor="middle">{escape(label[-10:])}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped
