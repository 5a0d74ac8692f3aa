"""Geometry for small server-rendered SVG bar charts (no chart library reaches the phone)."""

from __future__ import annotations

from dataclasses import dataclass

BAR_HEIGHT = 22
GAP = 8
LABEL_WIDTH = 130
CHART_WIDTH = 320


@dataclass(frozen=True)
class Bar:
    y: int
    width: float
    label: str
    value: str
    css: str = ""


@dataclass(frozen=True)
class Chart:
    height: int
    width: int
    label_width: int
    bars: list[Bar]
    title: str


def _truncate(text: str, size: int = 22) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def bars(title: str, items: list[tuple[str, float, str, str]]) -> Chart:
    """A horizontal bar chart from (label, value, shown value, css class) items."""
    top = max((v for _l, v, _s, _c in items), default=0) or 1
    span = CHART_WIDTH - LABEL_WIDTH - 60
    out = [
        Bar(i * (BAR_HEIGHT + GAP), round(span * max(value, 0) / top, 1), _truncate(label), shown, css)
        for i, (label, value, shown, css) in enumerate(items)
    ]
    return Chart(max(len(out) * (BAR_HEIGHT + GAP), BAR_HEIGHT), CHART_WIDTH, LABEL_WIDTH, out, title)


def paired(title: str, items: list[tuple[str, float, float, str, str]]) -> Chart:
    """Two bars per item (e.g. planned and realised): (label, a, b, shown a, shown b)."""
    flat: list[tuple[str, float, str, str]] = []
    for label, a, b, shown_a, shown_b in items:
        flat.append((label, a, shown_a, "a"))
        flat.append(("", b, shown_b, "b"))
    return bars(title, flat)
