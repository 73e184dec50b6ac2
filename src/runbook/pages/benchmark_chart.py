"""An SVG bar chart of benchmark ratios, drawn at build time from the committed results (no SVG is
committed, so the chart cannot drift from the numbers).

Accessible: ``role="img"`` named by its ``<title>`` and described by its ``<desc>``, which says in
words every value the bars show; the page puts the table with the same numbers beside it. Colours
come from the theme (``currentColor``, Material's primary and accent), so light and dark schemes
both keep their contrast.
"""
from __future__ import annotations

from html import escape

_ROW, _BAR, _LABEL_WIDTH, _PLOT_WIDTH, _TOP = 30, 18, 330, 330, 28


def ratio_chart(bars: list[tuple[str, float]], *, title: str, description: str, highlight: str | None = None,
                goal: tuple[float, str] | None = None, chart_id: str = "benchmark-chart") -> str:
    """A horizontal bar per ``(label, ratio)``, a line at 1× (the reference) and one at ``goal``.

    ``description`` opens the ``<desc>``; the bars' values follow it. ``highlight``: the label
    drawn in the accent colour.
    """
    if not bars:
        raise ValueError("a chart needs at least one bar")
    top = max([ratio for _, ratio in bars] + [1.0, goal[0] if goal else 0.0])
    scale = _PLOT_WIDTH / (top * 1.1)
    height = _TOP + _ROW * len(bars) + 10
    width = _LABEL_WIDTH + _PLOT_WIDTH + 60
    values = "; ".join(f"{label}: {ratio:.2f}×" for label, ratio in bars)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'viewBox="0 0 {width} {height}" width="100%" style="max-width: {width}px" font-size="13" '
        'fill="currentColor">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)} {escape(values)}.</desc>',
    ]
    x0 = _LABEL_WIDTH
    for n, (label, ratio) in enumerate(bars):
        y = _TOP + n * _ROW
        colour = "var(--md-accent-fg-color)" if label == highlight else "var(--md-primary-fg-color)"
        parts += [
            f'<text x="{x0 - 8}" y="{y + _BAR - 5}" text-anchor="end">{escape(label)}</text>',
            f'<rect x="{x0}" y="{y}" width="{max(ratio * scale, 1):.1f}" height="{_BAR}" style="fill: {colour}"/>',
            f'<text x="{x0 + ratio * scale + 6:.1f}" y="{y + _BAR - 5}">{ratio:.2f}×</text>',
        ]
    lines = [(1.0, "1× the floor")] + ([goal] if goal else [])
    for n, (ratio, label) in enumerate(lines):
        x = x0 + ratio * scale
        parts += [
            f'<line x1="{x:.1f}" y1="{_TOP - 6}" x2="{x:.1f}" y2="{height - 6}" stroke="currentColor" '
            f'stroke-dasharray="4 3"/>',
            # The 1× label to the right of its line, the goal's (below 1×) to the left of its own.
            f'<text x="{x + (-4 if n else 4):.1f}" y="14" text-anchor="{"end" if n else "start"}" font-size="11">'
            f'{escape(label)}</text>',
        ]
    parts.append("</svg>")
    # One line: Markdown leaves an HTML block alone only while it has no blank line.
    return "".join(parts)
