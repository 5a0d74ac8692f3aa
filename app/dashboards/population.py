"""Population pages of the region dashboards: /wilayah/<code>/penduduk, its CSV and XLSX.

Every count of people on these pages passed small-cell suppression (app/stats/population.py): a count
from 1 to 4 reads "<5", and a count hidden so that a total cannot give one back reads "×". Pages read
published rows only: a province page reads a few hundred rows, never a resident.
"""

from __future__ import annotations

import csv
import io

from flask import Response, abort, request
from flask_babel import gettext as _
from sqlalchemy import select

from app.dashboards import bp, charts
from app.extensions import db
from app.i18n import coded, translated
from app.models import Village
from app.models.population import SyncedReport
from app.models.profile import Project
from app.stats import figures, population
from app.web import SENT_PDF_CSP, active_village_or_404, render
from app.workflow import local_today

DISTRIBUTIONS = ("education", "occupation", "religion", "marital")


def view_or_404(code: str) -> population.PopulationView:
    found = population.view(code, local_today())
    if found is None:
        abort(404)
    return found


def pyramid_chart(pv: population.PopulationView) -> charts.Chart:
    return charts.paired(
        _("Piramida umur: laki-laki dan perempuan per kelompok 5 tahun"),
        [(band, m.value or 0, f.value or 0, m.text, f.text) for band, m, f in pv.pyramid()],
    )


@bp.route("/wilayah/<code>/penduduk")
def population_page(code: str):
    pv = view_or_404(code)
    village = None
    reports: list = []
    projects: list = []
    if pv.region.level == 4:
        village = db.session.scalar(
            select(Village).where(Village.region_code == code, Village.active.is_(True))
        )
        if village is not None:
            reports = db.session.scalars(
                select(SyncedReport)
                .where(SyncedReport.village_id == village.id, SyncedReport.kind == "apbdes")
                .order_by(SyncedReport.year.desc(), SyncedReport.period.desc())
                .limit(12)
            ).all()
            projects = db.session.scalars(
                select(Project)
                .where(Project.village_id == village.id)
                .order_by(Project.year.desc(), Project.id.desc())
                .limit(10)
            ).all()
    return render(
        "dashboards/population.html",
        pv=pv,
        pyramid=pyramid_chart(pv) if pv.has_data else None,
        distributions=[(d, population.DIMENSION_LABELS[d], pv.breakdown(d)) for d in DISTRIBUTIONS],
        aid=pv.breakdown("aid"),
        village=village,
        reports=reports,
        projects=projects,
        source_labels=translated(population.SOURCE_LABELS),
        child_label=coded(figures.CHILD_LABELS, pv.region.level) if pv.region.level < 4 else "",
        dimension_titles=translated(population.DIMENSION_LABELS),
    )


def _child_rows(pv: population.PopulationView) -> list[list[str]]:
    rows = []
    for child in pv.children:
        f = child.figures
        rows.append(
            [
                child.code,
                child.name,
                *(
                    f.get(k, population.ZERO).text
                    for k in ("total", "households", "sex_L", "sex_P", "aid_all")
                ),
            ]
        )
    rows.append(
        [
            pv.region.code,
            pv.region.name,
            pv.get("total").text,
            pv.get("households").text,
            pv.get("sex", "L").text,
            pv.get("sex", "P").text,
            pv.get("aid_all").text,
        ]
    )
    return rows


CHILD_HEADER = ["kode", "nama", "penduduk", "keluarga", "laki_laki", "perempuan", "penerima_bantuan"]


def _detail_rows(pv: population.PopulationView) -> list[list[str]]:
    rows = []
    for band, m, f in pv.pyramid():
        rows.append(["umur_laki_laki", band, band, m.text])
        rows.append(["umur_perempuan", band, band, f.text])
    for dimension in (*DISTRIBUTIONS, "aid"):
        for key, label, figure in pv.breakdown(dimension):
            rows.append([dimension, key, label or _("Tidak tercatat"), figure.text])
    for dimension in population.DOCUMENT_DIMENSIONS:
        rows.append([dimension, "", "", pv.get(dimension).text])
    return rows


DETAIL_HEADER = ["dimensi", "kunci", "label", "jumlah"]


def _source_rows(pv: population.PopulationView) -> list[list[str]]:
    return [
        [
            s.source,
            coded(population.SOURCE_LABELS, s.source),
            str(s.villages),
            s.oldest.isoformat() if s.oldest else "",
            s.newest.isoformat() if s.newest else "",
        ]
        for s in pv.sources
    ]


SOURCE_HEADER = ["sumber", "keterangan", "desa", "data_tertua", "data_terbaru"]


@bp.route("/wilayah/<code>/penduduk.<fmt>")
def population_download(code: str, fmt: str):
    pv = view_or_404(code)
    table = request.args.get("tabel", "wilayah")
    tables = {
        "wilayah": (CHILD_HEADER, _child_rows(pv)),
        "rincian": (DETAIL_HEADER, _detail_rows(pv)),
        "sumber": (SOURCE_HEADER, _source_rows(pv)),
    }
    name = f"balai-penduduk-{code}"
    if fmt == "csv":
        if table not in tables:
            abort(404)
        header, rows = tables[table]
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
        return Response(
            out.getvalue(),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}-{table}.csv"'},
        )
    if fmt == "xlsx":
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        for title, (header, rows) in tables.items():
            sheet = book.create_sheet(title)
            sheet.append(header)
            for row in rows:
                sheet.append(row)
        buffer = io.BytesIO()
        book.save(buffer)
        return Response(
            buffer.getvalue(),
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    abort(404)


@bp.route("/desa/<slug>/apbdes/<int:report_id>.pdf")
def apbdes_pdf(slug: str, report_id: int):
    """A Laporan APBDes the village sent from OpenSID: public, as the budget is."""
    village = active_village_or_404(slug)
    report = db.session.get(SyncedReport, report_id)
    if report is None or report.village_id != village.id or report.kind != "apbdes":
        abort(404)
    response = Response(report.pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="apbdes-{village.slug}-{report.year}-{report.id}.pdf"'
    )
    # A PDF from outside: never run in Balai's origin.
    response.headers["Content-Security-Policy"] = SENT_PDF_CSP
    response.cache_control.public = True
    response.cache_control.max_age = 3600
    return response
