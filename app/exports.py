"""CSV downloads: one writer for every export, so no cell a person typed becomes a spreadsheet formula.

Service names, product names, village names and answers reach kabupaten and BUMDes staff as CSV
files opened in Excel or LibreOffice, which run a cell starting with ``=``, ``+``, ``-`` or ``@`` as
a formula (``=HYPERLINK(...)`` to phish, DDE to run programs); a leading tab or carriage return
hides the same. Such text gets a leading apostrophe, which spreadsheets show as plain text. Numbers
are written as numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from flask import Response

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def csv_cell(value: object) -> object:
    """``value`` as a CSV cell: None empty, text that a spreadsheet would run prefixed with ``'``."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]], *, bom: bool = False) -> str:
    """A CSV document: the header, then each row with every cell through :func:`csv_cell`."""
    out = io.StringIO()
    if bom:
        out.write("\ufeff")  # Excel reads the file as UTF-8 only with it
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([csv_cell(v) for v in row] for row in rows)
    return out.getvalue()


def csv_download(text: str, filename: str, *, private: bool = False) -> Response:
    """``text`` as a CSV attachment named ``filename``; ``private`` keeps it out of every cache."""
    response = Response(text, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    if private:
        response.headers["Cache-Control"] = "private, no-store"
    return response
