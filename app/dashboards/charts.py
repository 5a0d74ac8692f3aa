"""Geometry for small server-rendered SVG bar charts (no chart library reaches the phone).

Each label sits on its own line above its bar, across the chart's whole width: at 13 px on a 360 px
phone a label of 40 letters fits whole, where a column beside the bars clipped or cut it.
"""

from __future__ import annotations

from dataclasses import dataclass

CHART_WIDTH = 320
FONT = 13  # px in the SVG's own units; the chart is drawn at least 296 px wide (320 px phones): >= 12 px
LABEL_LINE = 18
BAR_HEIGHT = 16
GAP = 10
PAIR_GAP = 3
VALUE_ROOM = 70  # right of the longest bar, for its value ("Rp1,2 M")
LABEL_CHARS = 40


@dataclass(frozen=True)
class Bar:
    label_y: int | None  # baseline of the label above the bar; None for the second bar of a pair
    bar_y: int
    width: float
    label: str
    value: str
    css: str = ""

    @property
    def value_y(self) -> int:
        return self.bar_y + BAR_HEIGHT - 3


@dataclass(frozen=True)
class Chart:
    height: int
    width: int
    bars: list[Bar]
    title: str
    bar_height: int = BAR_HEIGHT


def _truncate(text: str, size: int = LABEL_CHARS) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def bars(title: str, items: list[tuple[str, float, str, str]]) -> Chart:
    """A horizontal bar chart from (label, value, shown value, css class) items; "" labels continue a pair."""
    top = max((v for _l, v, _s, _c in items), default=0) or 1
    span = CHART_WIDTH - VALUE_ROOM
    out = []
    y = 0
    for label, value, shown, css in items:
        if label:
            y += GAP if out else 0
            label_y, y = y + FONT, y + LABEL_LINE
        else:
            label_y, y = None, y + PAIR_GAP
        out.append(Bar(label_y, y, round(span * max(value, 0) / top, 1), _truncate(label), shown, css))
        y += BAR_HEIGHT
    return Chart(max(y, BAR_HEIGHT), CHART_WIDTH, out, title)


def paired(title: str, items: list[tuple[str, float, float, str, str]]) -> Chart:
    """Two bars per item (e.g. planned and realised): (label, a, b, shown a, shown b)."""
    flat: list[tuple[str, float, str, str]] = []
    for label, a, b, shown_a, shown_b in items:
        flat.append((label, a, shown_a, "a"))
        flat.append(("", b, shown_b, "b"))
    return bars(title, flat)
