"""Small-cell suppression for published counts of people: no count from 1 to 4 is shown, and no
shown total gives one back.

A table of counts is a set of cells and of *equations* between them: the cells of a breakdown add
up to its total (men + women = residents), and the same category adds up over the regions below
(the kabupaten's farmers = the sum of its kecamatan's farmers). A count from 1 to 4 is hidden
("<5", the *primary* suppression). If an equation then has exactly one hidden cell, the others give
it back by subtraction, so a second cell of that equation is hidden as well (*complementary*
suppression, shown as "×"): the smallest count above zero, else the equation's total. Hiding a cell
can leave another equation with a single hidden cell, so this repeats until every equation has
none or at least two.

Plain functions over plain values: cells are any hashable keys, equations are (total, parts).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable

SHOWN, SMALL, COMPLEMENT = 0, 1, 2
THRESHOLD = 5  # counts below this (and above zero) are never shown


def is_small(n: int) -> bool:
    return 0 < n < THRESHOLD


def suppress(
    values: dict[Hashable, int], equations: Iterable[tuple[Hashable, Iterable[Hashable]]]
) -> dict[Hashable, int]:
    """The mark of every cell of ``values``: SHOWN, SMALL (1-4) or COMPLEMENT (hidden to protect one).

    ``equations`` are (total cell, part cells) with value(total) == sum(value(parts)); cells missing
    from ``values`` count as a known zero.
    """
    marks = {cell: (SMALL if is_small(n) else SHOWN) for cell, n in values.items()}
    # Equations as member lists (total first, then the parts above zero), with a running count of
    # hidden members: only an equation whose count is exactly one needs work.
    lines: list[list[Hashable]] = []
    lines_of: dict[Hashable, list[int]] = defaultdict(list)
    hidden: list[int] = []
    for total, parts in equations:
        members = [total, *(p for p in parts if values.get(p, 0))]
        index = len(lines)
        lines.append(members)
        hidden.append(sum(1 for c in members if marks.get(c, SHOWN) != SHOWN))
        for cell in members:
            lines_of[cell].append(index)
    pending = [i for i, count in enumerate(hidden) if count == 1]
    while pending:
        index = pending.pop()
        if hidden[index] != 1:
            continue
        choice = _complement(lines[index], values, marks)
        if choice is None:
            continue  # nothing left to hide but zeros: the total is zero, nothing to protect
        marks[choice] = COMPLEMENT
        for other in lines_of[choice]:
            hidden[other] += 1
            if hidden[other] == 1:
                pending.append(other)
    return marks


def _complement(members: list, values: dict, marks: dict):
    """The cell to hide beside the single hidden one: the smallest positive part, else the total."""
    total = members[0]
    best, best_key = None, None
    for cell in members[1:]:
        n = values.get(cell, 0)
        if n > 0 and marks.get(cell, SHOWN) == SHOWN:
            key = (n, repr(cell))
            if best_key is None or key < best_key:
                best, best_key = cell, key
    if best is not None:
        return best
    if marks.get(total, SHOWN) == SHOWN and values.get(total, 0) > 0:
        return total
    return None


def exposed(values: dict, equations: Iterable[tuple[Hashable, Iterable[Hashable]]], marks: dict) -> list:
    """Equations with exactly one hidden cell (which the rest would give back); empty when safe."""
    out = []
    for total, parts in equations:
        members = (total, *(p for p in parts if values.get(p, 0)))
        hidden = [c for c in members if marks.get(c, SHOWN) != SHOWN]
        if len(hidden) == 1:
            out.append((total, hidden[0]))
    return out


def shown(n: int | None, mark: int) -> str:
    """How a count is printed: the number, "<5" or "×"."""
    if mark == SMALL:
        return "<5"
    if mark == COMPLEMENT:
        return "×"
    return str(n or 0)
