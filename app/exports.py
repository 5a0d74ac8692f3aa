"""CSV downloads: one writer for every export, so no cell a person typed becomes a spreadsheet formula.

Service names, product names, village names and answers reach kabupaten and BUMDes staff as CSV
files opened in Excel or LibreOffice, which run a cell starting with ``=``, ``+``, ``-`` or ``@`` as
a formula (``=HYPERLINK(...)`` to phish, DDE to run programs); a leading tab or carriage return
hides the same. Such text gets a leading apostrophe, which spreadsheets show as plain text. Numbers
are written as numbers.

Downloads meant for Excel with Indonesian settings (:func:`excel_csv_download`, :func:`xlsx_download`):
Excel set to Indonesian reads a CSV as one column unless its fields are separated by ``;`` (the
comma is the decimal mark there), mangles non-ASCII letters without a byte-order mark, and turns
"2.5" into a date. So those CSVs carry a BOM, the locale's separator and decimal mark, and labels,
not codes. The .xlsx (openpyxl) keeps numbers as numbers and text as text, whatever the locale.
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


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Cell = str | int | float | None


def separators(locale: str) -> tuple[str, str]:
    """(field separator, decimal mark) that Excel expects under ``locale``."""
    return (";", ",") if locale.startswith("id") else (",", ".")


def cell_text(value: Cell, decimal: str = ",", digits: int = 1) -> str:
    """One CSV cell: numbers with the locale's decimal mark, formula-looking text made plain text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:.{digits}f}".replace(".", decimal)
    if isinstance(value, int):
        return str(value)
    return csv_cell(value)


def excel_csv_download(
    header: Sequence[str], rows: Iterable[Sequence[Cell]], filename: str, locale: str
) -> Response:
    """A CSV attachment that Excel under ``locale`` opens in columns (BOM, separator, decimal mark)."""
    delimiter, decimal = separators(locale)
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow([cell_text(h, decimal) for h in header])
    writer.writerows([cell_text(v, decimal) for v in row] for row in rows)
    return _attachment(out.getvalue().encode("utf-8"), "text/csv; charset=utf-8", filename)


def xlsx_download(
    title: str, header: Sequence[str], rows: Iterable[Sequence[Cell]], filename: str
) -> Response:
    """An .xlsx attachment: one sheet, a bold frozen header, numbers as numbers."""
    from openpyxl import Workbook  # only downloads need it: web workers start without it
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]  # Excel's limit
    sheet.append(list(header))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    widths = [len(h) for h in header]
    for row in rows:
        sheet.append([None] * len(header))
        for column, value in enumerate(row, start=1):
            _xlsx_cell(sheet.cell(row=sheet.max_row, column=column), value)
            widths[column - 1] = max(widths[column - 1], len(cell_text(value)))
    for column, width in enumerate(widths, start=1):
        sheet.column_dimensions[sheet.cell(row=1, column=column).column_letter].width = min(width + 2, 60)
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return _attachment(out.getvalue(), XLSX_TYPE, filename)


def _xlsx_cell(cell, value: Cell) -> None:
    if isinstance(value, str):
        cell.value = value
        cell.data_type = "s"  # openpyxl would store text starting with "=" as a formula
    else:
        cell.value = value
        if isinstance(value, float):
            cell.number_format = "0.0"


def _attachment(body: bytes, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
