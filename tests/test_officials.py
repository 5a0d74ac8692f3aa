"""The officials' workbench: queue, request page, actions and their permissions, services, holidays,
reports and the counter."""

from __future__ import annotations

import re
import secrets
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete, event, func, insert, select, update

from app import workflow
from app.domain import states
from app.domain.storage import PhotoStore
from app.extensions import db
from app.models import Attachment, Holiday, Service, ServiceRequest, StatusChange, User, Village
from app.models.deskcounts import DeskCount
from app.models.services import TO_REGION, TO_VILLAGE
from app.officials.audit import AuditTrailViolation
from app.officials.queue import PAGE_SIZE
from app.officials.reports import monthly_report, percentile
from tests.conftest import csrf_from

NIK = "1809104506900001"  # Pesawaran, born 5 June 1990, female
OTHER_NIK = "1809101203850002"
TEMPLATE = "Menerangkan bahwa {{ nama }} (NIK {{ nik }}) tinggal di {{ alamat }}. Keperluan: {{ keperluan }}."


def village(slug: str) -> Village:
    return db.session.scalar(select(Village).where(Village.slug == slug))


def user(email: str) -> User:
    return db.session.scalar(select(User).where(User.email == email))


def make_service(v: Village, code: str = "uji-surat", kind: str = "letter", **extra) -> Service:
    service = Service(
        village_id=v.id,
        code=code,
        kind=kind,
        name=extra.pop("name", "Surat Keterangan Uji"),
        fields=[{"name": "alamat", "label": "Alamat", "type": "text", "required": True}],
        documents=[],
        sla_days=extra.pop("sla_days", 3),
        classification_code="470",
        letter_template=extra.pop("letter_template", TEMPLATE),
        **extra,
    )
    db.session.add(service)
    db.session.commit()
    return service


def make_request(
    v: Village, service: Service, name: str = "Siti Wulandari", nik: str = NIK
) -> ServiceRequest:
    submitted = workflow.submit_request(
        v,
        service,
        nik=nik,
        name=name,
        phone="+6281234567890",
        idempotency_key=secrets.token_hex(8),
        data={"alamat": "Dusun II RT 03"},
        purpose="Melamar kerja",
    )
    db.session.commit()
    return submitted.request


def advance(req: ServiceRequest, *actions: str, actor: User | None = None) -> ServiceRequest:
    for action in actions:
        workflow.apply_action(req, action, actor=actor, note="catatan")
    db.session.commit()
    return req


@pytest.fixture
def hanura(demo):
    v = village("hanura")
    return v, make_service(v)


def token(client) -> str:
    """The CSRF token pages carry for htmx once there is a session (the login form starts one)."""
    html = client.get("/").get_data(as_text=True)
    found = re.search(r'"X-CSRFToken": "([^"]+)"', html)
    return found.group(1) if found else csrf_from(client.get("/akun/masuk").get_data(as_text=True))


def act(auth, req_id: int, action: str, version: int, note: str = "", headers=None, **extra):
    data = {
        "action": action,
        "version": str(version),
        "note": note,
        "csrf_token": token(auth.client),
        **extra,
    }
    return auth.client.post(f"/kantor/permohonan/{req_id}/aksi", data=data, headers=headers)


# ---------------------------------------------------------------- queue


def test_operator_home_shows_todays_workload_counts_and_the_oldest_request_first(client, auth, hanura):
    v, service = hanura
    first = make_request(v, service, name="Ani Pertama")
    make_request(v, service, name="Budi Kedua")
    db.session.execute(
        update(ServiceRequest)
        .where(ServiceRequest.id == first.id)
        .values(due_date=workflow.local_today() - timedelta(days=1))
    )
    db.session.commit()
    auth.login("operator.hanura@balai.test")
    page = client.get(f"/kantor/?layanan={service.id}").get_data(as_text=True)
    assert "Desa Hanura" in page
    assert page.index("Ani Pertama") < page.index("Budi Kedua")
    assert re.search(r"<b>\d+</b>Lewat waktu", page)
    late = client.get(f"/kantor/?lewat=1&layanan={service.id}").get_data(as_text=True)
    assert "Ani Pertama" in late and "Budi Kedua" not in late


def _chip_counts(page: str) -> dict[str, int]:
    return {s: int(n) for s, n in re.findall(r'status=(\w+)"[^>]*>[^<]*<b>(\d+)</b>', page)}


def test_queue_counts_are_exact_right_after_the_officials_own_action_and_any_other_write(
    client, auth, hanura
):
    """Finished counts are kept between requests (app/datacache.py): never past a write."""
    v, service = hanura
    first, second = make_request(v, service), make_request(v, service)
    auth.login("operator.hanura@balai.test")
    before = _chip_counts(client.get("/kantor/").get_data(as_text=True))
    assert before[states.DIAJUKAN] >= 2
    assert client.get("/kantor/").status_code == 200  # the finished counts now come from the cache
    response = act(auth, first.id, "reject", first.version, note="Berkas tidak lengkap")
    assert response.status_code in (302, 303)
    page = client.get("/kantor/").get_data(as_text=True)
    after = _chip_counts(page)
    assert after[states.DITOLAK] == before[states.DITOLAK] + 1
    assert after[states.DIAJUKAN] == before[states.DIAJUKAN] - 1
    assert f"<b>{after[states.DIAJUKAN]}</b>Baru" in page
    # A change made elsewhere (another official, a job) is counted on the next page too.
    advance(second, "reject", actor=user("kades.hanura@balai.test"))
    later = _chip_counts(client.get("/kantor/").get_data(as_text=True))
    assert later[states.DITOLAK] == after[states.DITOLAK] + 1
    assert later[states.DIAJUKAN] == after[states.DIAJUKAN] - 1


def _kept_counts(v: Village) -> dict[str, int]:
    """desk_counts as the database keeps them for ``v`` (statuses counted down to 0 left out)."""
    db.session.expire_all()
    rows = db.session.execute(select(DeskCount.status, DeskCount.n).where(DeskCount.village_id == v.id))
    return {status: n for status, n in rows if n}


def _real_counts(v: Village) -> dict[str, int]:
    """The requests routed to ``v``'s office in each status, counted from the requests."""
    rows = db.session.execute(
        select(ServiceRequest.status, func.count())
        .where(ServiceRequest.village_id == v.id, ServiceRequest.routed_to == TO_VILLAGE)
        .group_by(ServiceRequest.status)
    )
    return dict(rows.all())


def test_desk_counts_follow_every_insert_transition_reroute_and_delete(client, auth, hanura):
    v, service = hanura
    complaint = make_service(v, code="uji-aduan", kind="complaint", letter_template="")
    assert _kept_counts(v) == _real_counts(v) != {}  # the demo's requests
    first, second = make_request(v, service), make_request(v, service)
    about_office = workflow.submit_request(
        v,
        complaint,
        nik=NIK,
        name="Siti Wulandari",
        phone=None,
        idempotency_key=secrets.token_hex(8),
        category="pelayanan",
        to_region=True,
    ).request
    db.session.commit()
    assert about_office.routed_to == TO_REGION
    assert _kept_counts(v) == _real_counts(v)
    advance(first, "verify", "start")
    advance(second, "request_fix")
    advance(about_office, "verify")  # the region's work: never in the office's counts
    assert _kept_counts(v) == _real_counts(v)
    workflow.apply_action(second, "resubmit", actor=None, by=states.RESIDENT)
    db.session.rollback()  # a change rolled back moves no count
    assert _kept_counts(v) == _real_counts(v)
    db.session.execute(
        update(ServiceRequest).where(ServiceRequest.id == first.id).values(routed_to=TO_REGION)
    )
    db.session.commit()
    assert _kept_counts(v) == _real_counts(v)
    # Rows written without the ORM (imports, benches) and deleted count too.
    row = dict(
        db.session.execute(select(ServiceRequest.__table__).where(ServiceRequest.id == second.id))
        .one()
        ._mapping
    )
    copies = []
    for i in range(3):
        copies.append(
            {**row, "tracking_code": f"UJI{i}", "idempotency_key": f"uji-{i}", "fix_token_hash": f"uji-{i}"}
        )
        del copies[-1]["id"]
    db.session.execute(insert(ServiceRequest), copies)
    db.session.commit()
    assert _kept_counts(v)[states.PERLU_PERBAIKAN] == _real_counts(v)[states.PERLU_PERBAIKAN] >= 4
    db.session.execute(delete(ServiceRequest).where(ServiceRequest.tracking_code.in_(["UJI0", "UJI1"])))
    db.session.commit()
    assert _kept_counts(v) == _real_counts(v)
    # What the queue shows.
    auth.login("operator.hanura@balai.test")
    shown = _chip_counts(client.get("/kantor/").get_data(as_text=True))
    assert shown == {status: _real_counts(v).get(status, 0) for status in states.STATUSES}


def test_desk_counts_stay_exact_when_requests_change_at_the_same_moment(app, hanura):
    """Officials asking for fixes while residents send theirs back (the two counts moved in
    opposite directions) and new requests arriving, each in its own transaction at once."""
    v, service = hanura
    to_fix = [make_request(v, service, name=f"Warga {i}").id for i in range(5)]
    fixed = [
        advance(make_request(v, service, name=f"Warga Perbaikan {i}"), "request_fix").id for i in range(5)
    ]
    jobs = [(rid, "request_fix", states.OFFICIAL) for rid in to_fix]
    jobs += [(rid, "resubmit", states.RESIDENT) for rid in fixed]
    jobs += [(None, "submit", None)] * 2  # 12 at once: within the pool's 15 connections
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def worker(request_id: int | None, action: str, by: str | None) -> None:
        with app.app_context():
            try:
                if request_id is None:
                    village, svc = db.session.get(Village, v.id), db.session.get(Service, service.id)
                    barrier.wait(timeout=30)
                    workflow.submit_request(
                        village,
                        svc,
                        nik=NIK,
                        name="Warga Baru",
                        phone=None,
                        idempotency_key=secrets.token_hex(8),
                        data={"alamat": "Dusun I"},
                    )
                else:
                    req = db.session.get(ServiceRequest, request_id)
                    req.service  # noqa: B018  (loaded before the race, not during it)
                    barrier.wait(timeout=30)
                    workflow.apply_action(req, action, actor=None, note="catatan", by=by)
                db.session.commit()
            except BaseException as exc:  # reported below
                errors.append(exc)
                db.session.rollback()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, [e for e in errors if not isinstance(e, threading.BrokenBarrierError)] or errors
    real = _real_counts(v)
    assert _kept_counts(v) == real
    assert real[states.PERLU_PERBAIKAN] >= 5


def test_queue_pages_with_a_keyset_cursor_without_repeating_or_skipping(client, auth, hanura):
    v, service = hanura
    names = [f"Warga Nomor {i:02d}" for i in range(PAGE_SIZE + 5)]
    for name in names:
        make_request(v, service, name=name)
    auth.login("operator.hanura@balai.test")
    seen = []
    url = f"/kantor/?layanan={service.id}"
    while url:
        html = client.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
        seen += re.findall(r"Warga Nomor \d\d", html)
        nxt = re.search(r'rel="next" href="([^"]+)"', html)
        url = nxt.group(1).replace("&amp;", "&") if nxt else None
    assert seen == names


def test_htmx_gets_only_the_queue_list_fragment(client, auth, hanura):
    v, service = hanura
    make_request(v, service)
    auth.login("operator.hanura@balai.test")
    response = client.get("/kantor/", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<section id="antrian"')
    assert "<html" not in body
    assert "HX-Request" in response.headers["Vary"]


def test_queue_search_finds_by_tracking_code_name_and_exact_nik_only(client, auth, hanura):
    v, service = hanura
    siti = make_request(v, service, name="Siti Wulandari", nik=NIK)
    make_request(v, service, name="Joko Santoso", nik=OTHER_NIK)
    auth.login("operator.hanura@balai.test")

    def found(q):
        data = {"q": q, "layanan": service.id, "csrf_token": token(client)}
        html = client.post("/kantor/", data=data, follow_redirects=True).get_data(as_text=True)
        return {n for n in ("Siti Wulandari", "Joko Santoso") if n in html}

    assert found(siti.tracking_code.lower().replace("-", " ")) == {"Siti Wulandari"}
    assert found("wulan") == {"Siti Wulandari"}
    assert found(OTHER_NIK) == {"Joko Santoso"}
    assert found(OTHER_NIK[:10]) == set()  # a partial NIK never matches


URL_ATTRIBUTES = re.compile(r'(?:href|action|hx-get|hx-post|hx-push-url)="([^"]*)"')


def _urls(html: str) -> list[str]:
    return URL_ATTRIBUTES.findall(html)


def test_a_nik_searched_in_the_queue_never_enters_a_url(client, auth, hanura):
    v, service = hanura
    for _ in range(PAGE_SIZE + 1):  # more than a page: the next page must not be a link either
        make_request(v, service, name="Siti Wulandari", nik=NIK)
    make_request(v, service, name="Joko Santoso", nik=OTHER_NIK)
    auth.login("operator.hanura@balai.test")
    typed = f"{NIK[:6]} {NIK[6:12]} {NIK[12:]}"  # as read off a KTP
    for q in (NIK, typed, NIK[:10]):
        data = {"q": q, "layanan": service.id, "csrf_token": token(client)}
        # Without JavaScript: the POST is answered in place, no redirect carries it.
        response = client.post("/kantor/", data=data)
        html = response.get_data(as_text=True)
        assert response.status_code == 200 and "Location" not in response.headers, q
        assert not [u for u in _urls(html) if NIK[:10] in u.replace("+", "").replace("%20", "")], q
        # With htmx: the fragment, and the address htmx shows leaves the search out.
        response = client.post("/kantor/", data=data, headers={"HX-Request": "true"})
        assert response.status_code == 200 and NIK[:6] not in response.headers["HX-Push-Url"]
        assert response.headers["HX-Push-Url"] == f"/kantor/?status=aktif&layanan={service.id}"
        assert not [u for u in _urls(response.get_data(as_text=True)) if NIK[:6] in u]
        if q != NIK[:10]:
            assert "Siti Wulandari" in html and "Joko Santoso" not in html, q
            assert 'rel="next"' not in html and ">Berikutnya</button>" in html
            first_page = html
    # The next page of a NIK search is asked for by POST as well, and is the rest of the list.
    page_two = client.post(
        "/kantor/",
        data={
            "q": NIK,
            "layanan": service.id,
            "setelah": re.search(r'name="setelah" value="([^"]+)"', first_page).group(1),
            "csrf_token": token(client),
        },
    ).get_data(as_text=True)
    assert page_two.count("Siti Wulandari") == 1 and ">Ke awal</button>" in page_two
    # An old link or a bookmark holding a NIK is turned away, without the NIK.
    response = client.get(f"/kantor/?q={NIK}&layanan={service.id}")
    assert response.status_code == 303 and NIK not in response.headers["Location"]


def test_queue_searches_for_names_and_codes_keep_their_own_address(client, auth, hanura):
    v, service = hanura
    siti = make_request(v, service, name="Siti Wulandari", nik=NIK)
    auth.login("operator.hanura@balai.test")
    for q in ("wulan", siti.tracking_code):
        data = {"q": q, "status": "semua", "csrf_token": token(client)}
        response = client.post("/kantor/", data=data)
        assert response.status_code == 303
        assert response.headers["Location"] == f"/kantor/?status=semua&q={q}".replace(" ", "+")
        assert "Siti Wulandari" in client.get(response.headers["Location"]).get_data(as_text=True)
        pushed = client.post("/kantor/", data=data, headers={"HX-Request": "true"}).headers["HX-Push-Url"]
        assert pushed == response.headers["Location"]


def _count_queries(client, url: str) -> int:
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        response = client.get(url)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert response.status_code == 200
    return len(statements)


def test_queue_page_makes_a_fixed_number_of_queries_whatever_it_shows(client, auth, hanura):
    v, service = hanura
    other = make_service(v, code="uji-lain", name="Layanan Lain")
    auth.login("operator.hanura@balai.test")
    for i in range(2):
        make_request(v, service if i % 2 else other, name=f"Sedikit {i}")
    few = _count_queries(client, "/kantor/")
    for i in range(PAGE_SIZE + 10):
        req = make_request(v, service if i % 2 else other, name=f"Banyak {i}")
        if i % 3 == 0:
            advance(req, "verify")
    many = _count_queries(client, "/kantor/")
    assert many == few
    assert few <= 8


def test_region_admin_reads_a_village_queue_but_cannot_act(client, auth, hanura):
    v, service = hanura
    req = make_request(v, service)
    auth.login("pesawaran@balai.test")
    assert "Desa Hanura" in client.get("/kantor/").get_data(as_text=True)  # the village picker
    queue_page = client.get(f"/kantor/?desa={v.id}").get_data(as_text=True)
    assert "Hanya baca" in queue_page and "Siti Wulandari" in queue_page
    detail = client.get(f"/kantor/permohonan/{req.id}").get_data(as_text=True)
    assert "Hanya baca" in detail and 'name="action"' not in detail
    assert act(auth, req.id, "verify", req.version).status_code == 403
    auth.logout()
    auth.login("lambar@balai.test")
    assert client.get(f"/kantor/?desa={v.id}").status_code == 404
    assert client.get(f"/kantor/permohonan/{req.id}").status_code == 404


def test_bumdes_manager_and_anonymous_visitors_get_no_queue(client, auth, hanura):
    assert client.get("/kantor/").status_code == 302
    auth.login("bumdes.hanura@balai.test")
    assert client.get("/kantor/").status_code == 403


# ---------------------------------------------------------------- actions and permissions

PATHS = {
    "verify": (),
    "request_fix": (),
    "reject": ("verify",),
    "start": ("verify",),
    "hand_over": ("verify", "start", "mark_ready"),
}
EXPECTED = {
    "operator.hanura@balai.test": 303,
    "kades.hanura@balai.test": 303,
    "operator.trimulyo@balai.test": 404,
    "pesawaran@balai.test": 403,
    "lambar@balai.test": 404,
    None: 302,
}


@pytest.mark.parametrize("email", list(EXPECTED))
def test_every_action_is_allowed_only_to_the_villages_own_officials(client, auth, hanura, email):
    v, service = hanura
    complaint = make_service(v, code="uji-aduan", kind="complaint", letter_template="")
    if email:
        auth.login(email)
    for action in [*PATHS, "resolve"]:
        req = make_request(v, complaint if action == "resolve" else service)
        advance(req, *PATHS.get(action, ("verify", "start")))
        before = (req.status, req.version)
        response = act(auth, req.id, action, req.version, note="Alasan yang jelas")
        assert response.status_code == EXPECTED[email], action
        db.session.expire_all()
        fresh = db.session.get(ServiceRequest, req.id)
        if EXPECTED[email] == 303:
            assert fresh.status == states.ACTIONS[action].to_state
            last = fresh.history[-1]
            assert (last.action, last.from_status, last.actor_name) == (action, before[0], user(email).name)
        else:
            assert (fresh.status, fresh.version) == before
            if email is None:
                assert "/akun/masuk" in response.headers["Location"]


def test_a_stale_form_shows_who_changed_it_and_the_fresh_state_without_a_double_transition(
    client, auth, hanura
):
    v, service = hanura
    req = make_request(v, service)
    seen_version = req.version
    workflow.apply_action(req, "verify", actor=user("kades.hanura@balai.test"), expected_version=seen_version)
    db.session.commit()
    auth.login("operator.hanura@balai.test")
    response = act(auth, req.id, "verify", seen_version)
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "sudah diubah oleh Sutarno" in page
    assert "Diverifikasi" in page
    assert f'name="version" value="{seen_version + 1}"' in page
    htmx = act(auth, req.id, "start", seen_version, headers={"HX-Request": "true"})
    assert htmx.status_code == 422
    assert htmx.get_data(as_text=True).lstrip().startswith('<section id="permohonan"')
    rows = db.session.scalars(select(StatusChange.action).where(StatusChange.request_id == req.id)).all()
    assert rows == ["submit", "verify"]


def test_rejecting_without_a_reason_rerenders_with_422_and_changes_nothing(client, auth, hanura):
    v, service = hanura
    req = make_request(v, service)
    auth.login("operator.hanura@balai.test")
    response = act(auth, req.id, "reject", req.version, note="  ")
    assert response.status_code == 422
    assert "wajib disertai catatan" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(ServiceRequest, req.id).status == states.DIAJUKAN


def test_an_action_returns_to_a_safe_local_next_page_only(client, auth, hanura):
    v, service = hanura
    req = make_request(v, service)
    auth.login("operator.hanura@balai.test")
    response = act(auth, req.id, "verify", req.version, next="/lacak/ABC")
    assert response.headers["Location"].endswith("/lacak/ABC")
    db.session.expire_all()
    req = db.session.get(ServiceRequest, req.id)
    response = act(auth, req.id, "start", req.version, next="//evil.example/x")
    assert response.headers["Location"].endswith(f"/kantor/permohonan/{req.id}")


def test_request_page_shows_fields_history_and_photos_only_through_a_private_route(app, client, auth, hanura):
    v, service = hanura
    req = make_request(v, service)
    name = PhotoStore(app.config["UPLOAD_DIR"]).save(b"\xff\xd8\xff fake jpeg bytes", ".jpg")
    photo = Attachment(
        request_id=req.id,
        doc_key="ktp",
        stored_name=name,
        mime="image/jpeg",
        size=20,
        width=10,
        height=10,
        sha256="0" * 64,
    )
    db.session.add(photo)
    db.session.commit()
    auth.login("operator.hanura@balai.test")
    page = client.get(f"/kantor/permohonan/{req.id}").get_data(as_text=True)
    assert "Dusun II RT 03" in page and NIK in page and "Melamar kerja" in page
    assert f"/kantor/lampiran/{photo.id}" in page and name not in page
    response = client.get(f"/kantor/lampiran/{photo.id}")
    assert response.status_code == 200 and response.data.startswith(b"\xff\xd8")
    assert response.headers["Cache-Control"] == "private, no-store"
    auth.logout()
    assert client.get(f"/kantor/lampiran/{photo.id}").status_code == 302
    for email, status in (("operator.trimulyo@balai.test", 404), ("pesawaran@balai.test", 403)):
        auth.login(email)
        assert client.get(f"/kantor/lampiran/{photo.id}").status_code == status
        auth.logout()


# ---------------------------------------------------------------- audit trail


def test_the_audit_trail_refuses_updates_and_deletes(hanura):
    v, service = hanura
    req = make_request(v, service)
    row = req.history[0]
    row.note = "dipalsukan"
    with pytest.raises(AuditTrailViolation):
        db.session.flush()
    db.session.rollback()
    with pytest.raises(AuditTrailViolation):
        db.session.delete(db.session.get(StatusChange, row.id))
        db.session.flush()
    db.session.rollback()
    with pytest.raises(AuditTrailViolation):
        db.session.execute(update(StatusChange).values(note="x"))
    db.session.rollback()
    with pytest.raises(AuditTrailViolation):
        db.session.execute(delete(StatusChange))
    db.session.rollback()
    assert db.session.get(StatusChange, row.id).note == ""


# ---------------------------------------------------------------- working days and holidays


def _next(weekday: int, after: date) -> date:
    return after + timedelta(days=(weekday - after.weekday()) % 7 or 7)


def test_a_holiday_entered_in_the_app_moves_due_dates_past_the_weekend_and_the_holiday(client, auth, hanura):
    v, service = hanura  # three working days
    friday = _next(4, workflow.local_today() + timedelta(days=7))
    monday = friday + timedelta(days=3)
    req = make_request(v, service)
    submitted = datetime(friday.year, friday.month, friday.day, 3, 0, tzinfo=UTC)  # 10.00 in Lampung
    assert workflow.due_date_for(v.id, friday, 3) == friday + timedelta(days=5)  # Wednesday: no weekend
    db.session.execute(
        update(ServiceRequest)
        .where(ServiceRequest.id == req.id)
        .values(submitted_at=submitted, due_date=friday + timedelta(days=5))
    )
    db.session.commit()

    auth.login("operator.hanura@balai.test")
    form_token = csrf_from(client.get("/kantor/libur").get_data(as_text=True))
    response = client.post(
        "/kantor/libur",
        data={"csrf_token": form_token, "day": monday.isoformat(), "name": "Libur Nasional Uji"},
    )
    assert response.status_code == 303
    assert workflow.due_date_for(v.id, friday, 3) == friday + timedelta(days=6)  # Thursday
    db.session.expire_all()
    assert db.session.get(ServiceRequest, req.id).due_date == friday + timedelta(days=6)
    assert "Libur Nasional Uji" in client.get("/kantor/libur").get_data(as_text=True)
    detail = client.get(f"/kantor/permohonan/{req.id}").get_data(as_text=True)
    assert f"{(friday + timedelta(days=6)).day} " in detail

    again = client.post(
        "/kantor/libur", data={"csrf_token": form_token, "day": monday.isoformat(), "name": "Dobel"}
    )
    assert again.status_code == 422
    holiday = db.session.scalar(select(Holiday).where(Holiday.day == monday))
    client.post(f"/kantor/libur/{holiday.id}/hapus", data={"csrf_token": form_token})
    db.session.expire_all()
    assert db.session.get(ServiceRequest, req.id).due_date == friday + timedelta(days=5)


def test_an_operator_cannot_delete_another_villages_holiday(client, auth, hanura):
    holiday = Holiday(village_id=village("trimulyo").id, day=date(2030, 1, 2), name="Libur Trimulyo")
    db.session.add(holiday)
    db.session.commit()
    auth.login("operator.hanura@balai.test")
    response = client.post(f"/kantor/libur/{holiday.id}/hapus", data={"csrf_token": token(client)})
    assert response.status_code == 404


# ---------------------------------------------------------------- services


def _service_form(client, url: str, **values) -> tuple[int, str]:
    token = csrf_from(client.get(url).get_data(as_text=True))
    data = {
        "csrf_token": token,
        "name": "Surat Keterangan Usaha",
        "code": "usaha-uji",
        "kind": "letter",
        "sla_days": "3",
        "fee": "0",
        "classification_code": "503",
        "fields_text": "nama_usaha | Nama usaha | text | wajib",
        "documents_text": "ktp | Foto KTP | wajib",
        "letter_template": "{{ nama }} memiliki usaha {{ nama_usaha }}.",
        "position": "0",
        **values,
    }
    response = client.post(url, data=data)
    return response.status_code, response.get_data(as_text=True)


CODE_TEMPLATES = [
    "{% import os %}",
    "{{ nama.__class__ }}",
    "{{ nama|upper }}",
    "{{ config }}",
    "{{ __import__('os') }}",
    "{{ nama }",
]


def test_a_letter_template_that_holds_code_is_refused(client, auth, hanura):
    auth.login("operator.hanura@balai.test")
    for template in CODE_TEMPLATES:
        status, page = _service_form(client, "/kantor/layanan/baru", letter_template=template)
        assert status == 422, template
        assert 'class="error"' in page
    assert db.session.scalar(select(Service).where(Service.code == "usaha-uji")) is None


def test_an_operator_adds_edits_and_retires_a_service(client, auth, hanura):
    auth.login("operator.hanura@balai.test")
    status, _ = _service_form(client, "/kantor/layanan/baru", fee="Rp 5.000")
    assert status == 302 or status == 303
    service = db.session.scalar(select(Service).where(Service.code == "usaha-uji"))
    assert (
        service.fee == 5000 and service.fields[0]["name"] == "nama_usaha" and service.documents[0]["required"]
    )
    status, _ = _service_form(client, f"/kantor/layanan/{service.id}", sla_days="5", name="SKU")
    db.session.expire_all()
    assert db.session.get(Service, service.id).sla_days == 5
    token = csrf_from(client.get("/kantor/layanan").get_data(as_text=True))
    client.post(f"/kantor/layanan/{service.id}/aktif", data={"csrf_token": token})
    db.session.expire_all()
    assert db.session.get(Service, service.id).active is False
    auth.logout()
    auth.login("operator.trimulyo@balai.test")
    assert client.get(f"/kantor/layanan/{service.id}").status_code == 404


def test_letter_settings_refuse_a_number_pattern_without_the_sequence(client, auth, hanura):
    auth.login("operator.hanura@balai.test")
    token = csrf_from(client.get("/kantor/pengaturan-surat").get_data(as_text=True))
    response = client.post(
        "/kantor/pengaturan-surat",
        data={"csrf_token": token, "numbering_mode": "village", "number_pattern": "{klasifikasi}/{tahun}"},
    )
    assert response.status_code == 422
    assert "{nomor}" in response.get_data(as_text=True)


# ---------------------------------------------------------------- reports


def test_percentiles_interpolate_between_ranks():
    assert percentile([], 0.5) is None
    assert percentile([4.0], 0.9) == 4.0
    assert percentile([1, 2, 3, 4], 0.5) == 2.5
    assert percentile(list(range(1, 11)), 0.9) == pytest.approx(9.1)


def test_monthly_report_counts_received_finished_rejected_and_share_within_sla(client, auth, hanura):
    v, service = hanura
    month_start = datetime(2030, 3, 4, 2, 0, tzinfo=UTC)
    rows = []
    for i, (days, outcome) in enumerate([(1, "done"), (2, "done"), (6, "done"), (1, "rejected"), (0, None)]):
        req = make_request(v, service, name=f"Laporan {i}")
        finished = month_start + timedelta(days=days)
        values = {"submitted_at": month_start, "due_date": date(2030, 3, 7)}
        if outcome:
            values |= {
                "status": states.SELESAI if outcome == "done" else states.DITOLAK,
                "finished_at": finished,
            }
        db.session.execute(update(ServiceRequest).where(ServiceRequest.id == req.id).values(**values))
        rows.append(req)
    db.session.commit()
    report = {r.service_id: r for r in monthly_report(v.id, date(2030, 3, 1))}[service.id]
    assert (report.received, report.finished, report.rejected) == (5, 3, 1)
    assert report.median_days == pytest.approx(2.0)
    assert report.p90_days == pytest.approx(5.2)
    assert report.within_sla == pytest.approx(2 / 3)

    auth.login("operator.hanura@balai.test")
    assert "Surat Keterangan Uji" in client.get("/kantor/laporan?bulan=2030-03").get_data(as_text=True)
    csv_response = client.get("/kantor/laporan.csv?bulan=2030-03")
    assert csv_response.mimetype == "text/csv"
    assert "2030-03,Surat Keterangan Uji,5,3,1,2.0,5.2,67" in csv_response.get_data(as_text=True)
    auth.logout()
    auth.login("pesawaran@balai.test")
    assert client.get(f"/kantor/laporan.csv?bulan=2030-03&desa={v.id}").status_code == 200
    auth.logout()
    auth.login("lambar@balai.test")
    assert client.get(f"/kantor/laporan.csv?bulan=2030-03&desa={v.id}").status_code == 404


# ---------------------------------------------------------------- counter


def test_an_operator_files_at_the_counter_for_a_resident_and_prints_the_slip(client, auth, hanura):
    _, service = hanura
    auth.login("operator.hanura@balai.test")
    form = client.get(f"/kantor/loket?layanan={service.id}").get_data(as_text=True)
    key = re.search(r'name="idempotency_key"[^>]*value="([^"]+)"', form).group(1)
    data = {
        "csrf_token": csrf_from(form),
        "idempotency_key": key,
        "nik": "1809 1045 0690 0001",
        "name": "Mbah Karto",
        "phone": "",
        "purpose": "Mengurus pensiun",
    }
    missing = client.post(f"/kantor/loket?layanan={service.id}", data=data)
    assert missing.status_code == 422 and "wajib diisi" in missing.get_data(as_text=True)
    data["f_alamat"] = "Dusun I"
    slip = client.post(f"/kantor/loket?layanan={service.id}", data=data)
    assert slip.status_code == 201
    assert slip.headers["Cache-Control"] == "private, no-store"
    page = slip.get_data(as_text=True)
    req = db.session.scalar(select(ServiceRequest).where(ServiceRequest.name == "Mbah Karto"))
    assert req.tracking_code in page and "data:image/png;base64," in page
    assert req.channel == "counter" and req.assisted_by_id == user("operator.hanura@balai.test").id
    assert req.phone is None and req.data == {"alamat": "Dusun I"}
    replay = client.post(f"/kantor/loket?layanan={service.id}", data=data)
    assert replay.status_code == 200 and "data:image/png" not in replay.get_data(as_text=True)
    assert (
        len(db.session.scalars(select(ServiceRequest).where(ServiceRequest.name == "Mbah Karto")).all()) == 1
    )
    detail = client.get(f"/kantor/permohonan/{req.id}").get_data(as_text=True)
    assert "dibantu Rina Operator Hanura" in detail
