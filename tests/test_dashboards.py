"""Village profiles, region dashboards, roll-ups and Smart Village indicators."""

from __future__ import annotations

import csv
import io
import random
import re
from datetime import timedelta

import openpyxl
import pytest
from sqlalchemy import event, func, select, update

from app import events, workflow
from app.domain import states
from app.domain.photos import placeholder_image
from app.extensions import db
from app.models import Role, Service, ServiceRequest, User
from app.models.profile import Announcement, BudgetLine, IdmStatus, Project, VillageProfile
from app.models.stats import RegionCompletionCount, RequestCount
from app.stats import figures, rollups
from tests.conftest import csrf_from
from tests.test_dashboards_support import (
    SECRET_EMAIL,
    SECRET_NAME,
    SECRET_NIK,
    SECRET_PHONE,
    SECRET_TEXT,
    submit,
    test_services,
    village,
)


def _walk(seed: int, steps: int = 120) -> None:
    """Random submissions and actions through the workflow, committed as the app would."""
    rnd = random.Random(seed)
    villages = [village(s) for s in ("hanura", "trimulyo", "rigis-jaya")]
    services = {v.id: test_services(v) for v in villages}
    db.session.commit()
    for _ in range(steps):
        open_ids = list(
            db.session.scalars(
                select(ServiceRequest.id)
                .where(ServiceRequest.status.in_(states.OPEN_STATUSES))
                .order_by(ServiceRequest.id)
            )
        )
        if not open_ids or rnd.random() < 0.3:
            v = rnd.choice(villages)
            submit(v, rnd.choice(services[v.id]))
        else:
            req = db.session.get(ServiceRequest, rnd.choice(open_ids))
            by = rnd.choice((states.OFFICIAL, states.OFFICIAL, states.RESIDENT))
            choices = states.actions_for(req.status, by, kind=req.service.kind)
            if not choices:
                continue
            action = rnd.choice(choices)
            workflow.apply_action(req, action.name, actor=None, note="catatan", by=by)
        if rnd.random() < 0.2:
            db.session.rollback()  # an abandoned transaction: roll-ups must roll back with it
        else:
            db.session.commit()


@pytest.mark.parametrize("seed", [1, 7, 2024])
def test_rollups_agree_with_a_full_recount_after_random_workflows(app, demo, seed):
    _walk(seed)
    assert rollups.differences(rollups.recount(), rollups.stored()) == {
        "requests": [],
        "completions": [],
        "orders": [],
        "region_requests": [],
        "region_services": [],
        "region_completions": [],
        "region_orders": [],
    }
    stored = rollups.stored()
    everything = db.session.query(ServiceRequest).count()
    assert sum(v[0] for v in stored["requests"].values()) == everything
    provinces = [v[0] for k, v in stored["region_requests"].items() if k[0] == ""]
    assert sum(provinces) == everything
    assert sum(v[0] for k, v in stored["region_services"].items() if "." not in k[0]) == everything
    assert {len(k[1]) for k in stored["region_requests"]} == {2, 5, 8}


def test_renaming_a_service_code_moves_its_counts_in_the_per_service_rollup(app, demo):
    _walk(5, steps=40)
    busiest = (
        select(ServiceRequest.service_id).group_by(ServiceRequest.service_id).order_by(func.count().desc())
    )
    service = db.session.get(Service, db.session.scalars(busiest).first())
    requests = db.session.query(ServiceRequest).filter_by(service_id=service.id).count()
    service.code = "kode-baru"
    db.session.commit()
    stored = rollups.stored()
    renamed = [v[0] for k, v in stored["region_services"].items() if k[2] == "kode-baru" and "." not in k[0]]
    assert requests and sum(renamed) == requests
    assert rollups.differences(rollups.recount(), stored)["region_services"] == []


def test_stats_check_finds_tampered_rollups_and_rebuild_repairs_them(app, demo, runner):
    _walk(3, steps=40)
    assert runner.invoke(args=["stats", "check"]).exit_code == 0
    db.session.execute(update(RequestCount).values(n=RequestCount.n + 5))
    db.session.execute(update(RegionCompletionCount).values(n=RegionCompletionCount.n + 1))
    db.session.commit()
    checked = runner.invoke(args=["stats", "check"])
    assert checked.exit_code == 1
    assert "region_completions" in checked.output
    rebuilt = runner.invoke(args=["stats", "rebuild"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "baris berbeda sebelum dibangun ulang" in rebuilt.output
    assert "cocok" in rebuilt.output
    assert runner.invoke(args=["stats", "check"]).exit_code == 0


def _make_overdue(slug: str, count: int) -> None:
    v = village(slug)
    letter, _complaint = test_services(v)
    for _ in range(count):
        req = submit(v, letter)
        db.session.execute(
            update(ServiceRequest)
            .where(ServiceRequest.id == req.id)
            .values(due_date=workflow.local_today() - timedelta(days=3))
            .execution_options(synchronize_session=False)
        )
    db.session.commit()


def _table_rows(html: str) -> list[str]:
    body = html.split('<table class="board">', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<th scope="row"><a href="[^"]*">([^<]+)</a>', body)


def test_kabupaten_admin_sorts_kecamatan_by_overdue_drills_down_and_downloads_csv(client, auth, demo):
    _make_overdue("pampangan", 30)  # Sekincau
    _make_overdue("trimulyo", 1)
    auth.login("lambar@balai.test")
    page = client.get("/wilayah/18.04?urut=overdue&arah=turun")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert _table_rows(html)[0] == "Sekincau"
    assert 'aria-sort="descending"' in html
    assert "Calon lokasi Smart Village" in html

    kecamatan = client.get("/wilayah/18.04.08")
    assert "Pampangan" in kecamatan.get_data(as_text=True)
    desa = client.get("/wilayah/18.04.08.2001")
    assert desa.status_code == 200
    assert "/desa/pampangan/" in desa.get_data(as_text=True)

    download = client.get("/wilayah/18.04/unduh/wilayah.csv?periode=semua")
    assert download.status_code == 200
    assert download.mimetype == "text/csv"
    rows = list(excel_csv(download.data))
    sekincau = next(r for r in rows if r["Kode"] == "18.04.08")
    assert int(sekincau["Terlambat"]) >= 30
    assert int(sekincau["Desa aktif"]) == 1
    assert rows[-1]["Kode"] == "18.04"  # the total comes last
    for table in ("status", "layanan"):
        assert client.get(f"/wilayah/18.04/unduh/{table}.csv").status_code == 200
        assert client.get(f"/wilayah/18.04/unduh/{table}.xlsx").status_code == 200
    assert client.get("/wilayah/18.04/unduh/rahasia.csv").status_code == 404
    assert client.get("/wilayah/18.04/unduh/rahasia.xlsx").status_code == 404


def excel_csv(body: bytes):
    """A CSV as Excel with Indonesian settings reads it: UTF-8 with a BOM, fields split on ';'."""
    assert body.startswith("\ufeff".encode())
    return csv.DictReader(io.StringIO(body.decode("utf-8-sig")), delimiter=";")


def test_downloads_open_in_excel_with_indonesian_settings_with_labels_and_decimal_commas(client, demo):
    _make_overdue("pampangan", 3)
    status = list(excel_csv(client.get("/wilayah/18.04/unduh/status.csv?periode=semua").data))
    labels = {r["Status"] for r in status}
    assert "Siap diambil" in labels and "siap_diambil" not in labels
    layanan = client.get("/wilayah/18.04.08.2001/unduh/layanan.csv?periode=semua").data.decode("utf-8-sig")
    assert "Perlu perbaikan" in layanan.splitlines()[0] and "perlu_perbaikan" not in layanan
    wilayah = list(excel_csv(client.get("/wilayah/18.04/unduh/wilayah.csv?periode=semua").data))
    medians = [r["Median (hari)"] for r in wilayah if r["Median (hari)"]]
    assert medians and all(re.fullmatch(r"\d+,\d", m) for m in medians)

    book = openpyxl.load_workbook(
        io.BytesIO(client.get("/wilayah/18.04/unduh/wilayah.xlsx?periode=semua").data)
    )
    sheet = book.active
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["Kode", "Nama", "Desa aktif"]
    assert sheet.freeze_panes == "A2"
    by_code = {
        row[0]: dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=2, values_only=True)
    }
    sekincau = by_code["18.04.08"]
    assert isinstance(sekincau["Terlambat"], int) and sekincau["Terlambat"] >= 3
    assert sekincau["Nama"] == next(r["Nama"] for r in wilayah if r["Kode"] == "18.04.08")
    assert isinstance(sekincau["Median (hari)"], float | type(None))
    status_book = openpyxl.load_workbook(io.BytesIO(client.get("/wilayah/18.04/unduh/status.xlsx").data))
    assert "Siap diambil" in [r[0] for r in status_book.active.iter_rows(min_row=2, values_only=True)]

    # English pages give the English separators.
    english = client.get("/wilayah/18.04/unduh/status.csv?lang=en").data.decode("utf-8-sig")
    assert english.splitlines()[0] == "Status,Quantity"


def test_text_that_looks_like_a_formula_stays_text_in_both_downloads(client, demo):
    from app.exports import cell_text, xlsx_download

    assert (
        cell_text("=HYPERLINK(1)") == "'=HYPERLINK(1)" and cell_text(2.5) == "2,5" and cell_text(None) == ""
    )
    response = xlsx_download("Uji", ["Nama"], [["=1+1"]], "uji.xlsx")
    cell = openpyxl.load_workbook(io.BytesIO(response.data)).active["A2"]
    assert cell.value == "=1+1" and cell.data_type == "s"


def test_sorting_works_both_ways_without_javascript(client, demo):
    _make_overdue("pampangan", 3)
    up = _table_rows(client.get("/wilayah/18.04?urut=name&arah=naik").get_data(as_text=True))
    down = _table_rows(client.get("/wilayah/18.04?urut=name&arah=turun").get_data(as_text=True))
    assert up == sorted(up, key=str.lower)
    assert down == list(reversed(up))


def test_period_filter_leaves_out_older_months(app, client, demo):
    v = village("hanura")
    letter, _c = test_services(v)
    old = submit(v, letter)
    db.session.execute(
        update(ServiceRequest)
        .where(ServiceRequest.id == old.id)
        .values(submitted_at=workflow.utcnow() - timedelta(days=800))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    rollups.rebuild()
    db.session.commit()
    today = workflow.local_today()
    everything = figures.dashboard("18.09.10.2004", figures.period_for("semua", today), today).total.submitted
    recent = figures.dashboard("18.09.10.2004", figures.period_for("12-bulan", today), today).total.submitted
    assert everything == recent + 1
    assert client.get("/wilayah/18.09?periode=bulan-ini").status_code == 200


def test_unknown_region_is_404(client, app):
    assert client.get("/wilayah/99.99").status_code == 404


def test_median_is_read_from_the_buckets():
    day = 24 * 60
    assert figures.median_minutes({}) is None
    assert figures.median_minutes({0: 2}) == pytest.approx(day / 2)
    assert figures.median_minutes({1: 1, 2: 1}) == pytest.approx(2 * day)
    assert rollups.bucket_of(0) == 0
    assert rollups.bucket_of(day) == 1
    assert rollups.bucket_of(100 * day) == len(figures.BUCKET_BOUNDS)


def test_region_dashboard_makes_the_same_number_of_queries_however_many_villages(app, client, demo):
    def count(url: str) -> int:
        seen = []

        def before(*_args):
            seen.append(1)

        event.listen(db.engine, "before_cursor_execute", before)
        try:
            assert client.get(url).status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", before)
        return len(seen)

    small = count("/wilayah/18.09")  # Pesawaran: one demo village
    large = count("/wilayah/18.04")  # Lampung Barat: four
    assert small == large
    _make_overdue("ringinjaya", 5)
    assert count("/wilayah/18.04") == large


def test_village_home_leads_to_services_tracking_and_shows_the_profile(client, demo):
    page = client.get("/desa/hanura/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'href="/desa/hanura/layanan"' in html
    assert "Ajukan surat atau pengaduan" in html
    assert 'href="/lacak"' in html
    assert "Desa pesisir" in html  # the demo profile
    assert "APBDes" in html and "<svg" in html
    assert "Rabat beton jalan dusun" in html
    # The dashboards' rules live in balai.css now, inlined on a first visit or linked after.
    assert ".chart{" in html or 'href="/static/css/balai.css' in html
    assert client.get("/desa/tidak-ada/").status_code == 404
    photo = re.search(r'src="(/desa/hanura/foto/[^"]+)"', html).group(1)
    with client.get(photo) as served:
        assert served.mimetype == "image/webp"
    assert client.get("/desa/trimulyo/foto/" + photo.rsplit("/", 1)[1]).status_code == 404


def test_village_home_has_no_inline_styles_or_scripts(client, demo):
    html = client.get("/desa/hanura/").get_data(as_text=True) + client.get("/wilayah/18.04").get_data(
        as_text=True
    )
    assert "style=" not in html
    assert not re.search(r"<script(?![^>]*src=)[^>]*>", html)
    assert " on" + "click=" not in html


def test_operator_edits_the_profile_and_bad_numbers_come_back_with_422(client, auth, demo):
    auth.login("operator.trimulyo@balai.test")
    bad = auth.post("/kelola-desa/profil", {"latitude": "99", "population": "3000"})
    assert bad.status_code == 422
    ok = auth.post(
        "/kelola-desa/profil",
        {
            "description": "Pekon kopi.",
            "potential": "Kopi robusta",
            "officials": "Sekretaris Pekon: Budi\nbaris tanpa titik dua",
            "latitude": "-5.01",
            "longitude": "104.42",
            "population": "3500",
        },
    )
    assert ok.status_code == 302
    profile = db.session.get(VillageProfile, village("trimulyo").id)
    db.session.refresh(profile)
    assert profile.population == 3500
    assert profile.officials == [{"position": "Sekretaris Pekon", "name": "Budi"}]
    assert "Pekon kopi." in client.get("/desa/trimulyo/").get_data(as_text=True)


def test_announcement_with_broadcast_emits_one_event(client, auth, demo):
    heard = []
    events.listeners["test-heard"] = lambda name, payload: heard.append((name, payload))
    try:
        auth.login("operator.hanura@balai.test")
        assert auth.post("/kelola-desa/pengumuman", {"title": "", "body": "x"}).status_code == 422
        auth.post("/kelola-desa/pengumuman", {"title": "Tanpa siaran", "body": "Isi"})
        auth.post(
            "/kelola-desa/pengumuman", {"title": "Kerja bakti", "body": "Minggu pagi", "broadcast": "y"}
        )
    finally:
        del events.listeners["test-heard"]
    published = [p for name, p in heard if name == "announcement.published"]
    assert len(published) == 1
    assert published[0]["title"] == "Kerja bakti"
    assert published[0]["path"].startswith("/desa/hanura/pengumuman/")
    assert "Kerja bakti" in client.get(published[0]["path"]).get_data(as_text=True)
    assert "Kerja bakti" in client.get("/desa/hanura/pengumuman").get_data(as_text=True)


def test_operator_cannot_touch_another_villages_announcement(client, auth, demo):
    other = db.session.scalar(select(Announcement).where(Announcement.village_id == village("trimulyo").id))
    auth.login("operator.hanura@balai.test")
    response = auth.post(f"/kelola-desa/pengumuman/{other.id}/hapus", form_page="/kelola-desa/pengumuman")
    assert response.status_code == 404
    assert client.get(f"/desa/hanura/pengumuman/{other.id}").status_code == 404


def test_operator_adds_a_project_with_a_photo_and_updates_its_progress(client, auth, demo):
    auth.login("operator.rigisjaya@balai.test")
    form = {
        "name": "Embung desa",
        "year": "2025",
        "budget": "120000000",
        "source": "Dana Desa",
        "progress": "10",
    }
    token = csrf_from(client.get("/kelola-desa/proyek").get_data(as_text=True))
    photo = (io.BytesIO(placeholder_image("embung", (10, 90, 160))), "embung.jpg")
    created = client.post(
        "/kelola-desa/proyek",
        data={**form, "csrf_token": token, "photo": photo},
        content_type="multipart/form-data",
    )
    assert created.status_code == 302
    project = db.session.scalar(select(Project).where(Project.name == "Embung desa"))
    assert len(project.photos) == 1
    bad = auth.post(f"/kelola-desa/proyek/{project.id}", {**form, "progress": "140"})
    assert bad.status_code == 422
    ok = auth.post(f"/kelola-desa/proyek/{project.id}", {**form, "progress": "75"})
    assert ok.status_code == 302
    db.session.refresh(project)
    assert project.progress == 75
    broken = client.post(
        "/kelola-desa/proyek",
        data={**form, "csrf_token": token, "photo": (io.BytesIO(b"<?php echo 1; ?>"), "x.jpg")},
        content_type="multipart/form-data",
    )
    assert broken.status_code == 422


def test_operator_enters_the_apbdes_and_it_shows_as_table_and_chart(client, auth, demo):
    auth.login("operator.pampangan@balai.test")
    fields = {
        f"{k}-planned": "100.000.000"
        for k in ("pemerintahan", "pembangunan", "kemasyarakatan", "pemberdayaan", "bencana")
    }
    fields.update(
        {
            f"{k}-realised": "50000000"
            for k in ("pemerintahan", "pembangunan", "kemasyarakatan", "pemberdayaan", "bencana")
        }
    )
    bad = auth.post("/kelola-desa/apbdes?tahun=2023", {**fields, "bencana-planned": "banyak"})
    assert bad.status_code == 422
    ok = auth.post("/kelola-desa/apbdes?tahun=2023", fields)
    assert ok.status_code == 302
    lines = db.session.scalars(
        select(BudgetLine).where(BudgetLine.village_id == village("pampangan").id, BudgetLine.year == 2023)
    ).all()
    assert len(lines) == 5 and all(line.planned == 100_000_000 for line in lines)
    html = client.get("/desa/pampangan/?tahun=2023").get_data(as_text=True)
    assert "APBDes 2023" in html and "Rp 500.000.000" in html


def test_manage_pages_are_for_village_officials_only(client, auth, demo):
    assert client.get("/kelola-desa/profil").status_code == 302  # to the login page
    auth.login("lambar@balai.test")
    assert client.get("/kelola-desa/profil").status_code == 403


def test_operator_fills_indicators_and_balai_computes_its_own(client, auth, demo):
    auth.login("operator.ringinjaya@balai.test")
    page = client.get("/kelola-desa/indikator").get_data(as_text=True)
    assert "dihitung Balai" in page
    auth.post("/kelola-desa/indikator", {"internet_balai": "ya", "website_desa": "ya"})
    from app.dashboards import indicators

    score = indicators.scores_for([village("ringinjaya")], workflow.local_today())[0]
    assert score.answers["internet_balai"] and score.answers["website_desa"]
    assert not score.answers["kader_digital"]
    assert score.computed["pengumuman_rutin"] == 1.0  # the demo's announcements
    assert 0 <= score.score <= 100


def test_candidate_list_ranks_the_demo_villages_for_the_kabupaten_admin(client, auth, demo):
    auth.login("lambar@balai.test")
    page = client.get("/wilayah/18.04/calon-smart-village")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    order = [name for name in re.findall(r'<th scope="row"><a href="/desa/[^/]+/">([^<]+)</a>', html)]
    assert set(order) == {"Pekon Trimulyo", "Pekon Pampangan", "Pekon Rigis Jaya", "Pekon Ringin Jaya"}
    assert order[-1] == "Pekon Ringin Jaya"  # the demo's weakest answers and lowest IDM

    filtered = client.get("/wilayah/18.04/calon-smart-village?min_idm=maju").get_data(as_text=True)
    assert re.findall(r'<th scope="row"><a href="/desa/[^/]+/">([^<]+)</a>', filtered) == ["Pekon Rigis Jaya"]

    download = client.get("/wilayah/18.04/calon-smart-village.csv")
    rows = list(csv.DictReader(io.StringIO(download.get_data(as_text=True))))
    assert [r["desa"] for r in rows] == order
    assert rows[0]["peringkat"] == "1"


def test_candidate_list_leaves_out_existing_sites_unless_asked(client, auth, demo):
    auth.login("provinsi@balai.test")
    without = client.get("/wilayah/18/calon-smart-village").get_data(as_text=True)
    assert "Desa Hanura" not in without
    assert "Desa Hanura" in client.get("/wilayah/18/calon-smart-village?include_sites=y").get_data(
        as_text=True
    )


def test_candidate_list_is_scoped_to_the_admins_region(client, auth, demo):
    assert client.get("/wilayah/18.04/calon-smart-village").status_code == 302
    auth.login("pesawaran@balai.test")
    assert client.get("/wilayah/18.04/calon-smart-village").status_code == 404
    assert client.get("/wilayah/18.04/calon-smart-village.csv").status_code == 404
    auth.logout()
    auth.login("operator.trimulyo@balai.test")
    assert client.get("/wilayah/18.04/calon-smart-village").status_code == 403


def test_idm_statuses_import_from_csv_by_command_and_upload(app, client, auth, demo, runner, tmp_path):
    path = tmp_path / "idm.csv"
    path.write_text(
        "kode_desa,tahun,skor,status\n18.04.15.2004,2030,0.8123,Mandiri\n99.99.99.9999,2030,0.5,Maju\n",
        encoding="utf-8",
    )
    result = runner.invoke(args=["stats", "import-idm", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 baru" in result.output and "1 dilewati" in result.output
    row = db.session.scalar(
        select(IdmStatus).where(IdmStatus.region_code == "18.04.15.2004", IdmStatus.year == 2030)
    )
    assert row.status == "mandiri"

    auth.login("pesawaran@balai.test")
    page = client.get("/wilayah/18.09/calon-smart-village").get_data(as_text=True)
    body = "kode_desa,tahun,skor,status\n18.09.10.2004,2031,0.9,Mandiri\n18.04.15.2004,2031,0.9,Mandiri\n"
    response = client.post(
        "/wilayah/18.09/idm",
        data={
            "csrf_token": csrf_from(page.split("Impor status IDM", 1)[1]),
            "file": (io.BytesIO(body.encode()), "idm.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    years = db.session.scalars(select(IdmStatus.region_code).where(IdmStatus.year == 2031)).all()
    assert years == ["18.09.10.2004"]  # Lampung Barat's row is outside Pesawaran's admin


PUBLIC_PAGES = [
    "/desa/hanura/",
    "/desa/hanura/pengumuman",
    "/wilayah/",
    "/wilayah/18",
    "/wilayah/18.09",
    "/wilayah/18.09.10",
    "/wilayah/18.09.10.2004",
    "/wilayah/18.09/unduh/wilayah.csv",
    "/wilayah/18.09.10/unduh/wilayah.csv",
    "/wilayah/18.09.10.2004/unduh/layanan.csv",
    "/wilayah/18.09/unduh/status.csv",
]


def test_no_personal_data_on_any_public_dashboard_page(client, demo):
    v = village("hanura")
    letter, complaint = test_services(v)
    for service in (letter, complaint, letter):
        req = submit(v, service)
        workflow.apply_action(req, "verify", actor=None)
    db.session.commit()
    for url in PUBLIC_PAGES:
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.get_data(as_text=True)
        for secret in (SECRET_NIK, SECRET_PHONE, SECRET_PHONE[3:], SECRET_EMAIL, SECRET_NAME, SECRET_TEXT):
            assert secret not in body, (url, secret)


def test_user_model_is_unchanged_by_the_dashboards(app, demo):
    # The dashboards read users only through access rules; a region admin keeps their region.
    admin = db.session.scalar(select(User).where(User.email == "lambar@balai.test"))
    assert admin.role == Role.REGION_ADMIN and admin.region_code == "18.04"
