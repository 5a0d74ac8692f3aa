"""The per-process data cache (app/datacache.py): a change shows at once, here and in other processes,
and nothing one visitor sees is served to another who may see less or more."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import ServiceRequest, Village
from app.models.profile import Announcement
from tests.conftest import Auth
from tests.processes import KINDS, two_processes
from tests.processes import close as _close
from tests.processes import instance as _instance


def _announce(app, title: str) -> None:
    with app.app_context():
        village = db.session.scalar(select(Village).where(Village.slug == "hanura"))
        db.session.add(Announcement(village_id=village.id, title=title, body="Kerja bakti"))
        db.session.commit()


def _rename(app, name: str) -> None:
    with app.app_context():
        village = db.session.scalar(select(Village).where(Village.slug == "hanura"))
        village.name = name
        db.session.commit()


def _home(app) -> str:
    response = app.test_client().get("/desa/hanura/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.fixture(params=KINDS)
def processes(request, demo, tmp_path):
    """Two web processes: on one machine (the instance folder's stamp), or on two sharing Redis."""
    yield from two_processes(request, tmp_path)


def test_a_change_in_the_same_process_shows_on_the_next_page(processes):
    here, _there = processes
    assert "Gotong royong hari Minggu" not in _home(here)
    _home(here)  # cached now
    _announce(here, "Gotong royong hari Minggu")
    assert "Gotong royong hari Minggu" in _home(here)


def test_a_change_in_another_process_shows_on_the_next_page(processes):
    here, there = processes
    _home(here)  # cached now
    _announce(there, "Posyandu pindah ke balai")
    assert "Posyandu pindah ke balai" in _home(here)
    _rename(there, "Hanura Baru")  # the village found by its slug is cached too
    assert "Hanura Baru" in _home(here)


def test_a_deactivated_village_is_gone_everywhere_at_once(processes):
    here, there = processes
    _home(here)
    with there.app_context():
        db.session.scalar(select(Village).where(Village.slug == "hanura")).active = False
        db.session.commit()
    assert here.test_client().get("/desa/hanura/").status_code == 404


def test_region_dashboards_follow_the_data_they_count(processes):
    here, there = processes
    client = here.test_client()
    client.get("/wilayah/18.09.10")  # the first visit inlines the CSS; later ones link it
    before = client.get("/wilayah/18.09.10").get_data(as_text=True)
    assert client.get("/wilayah/18.09.10").get_data(as_text=True) == before
    with there.app_context():
        db.session.scalar(select(Village).where(Village.slug == "hanura")).active = False
        db.session.commit()
    assert client.get("/wilayah/18.09.10").get_data(as_text=True) != before


def test_a_region_admins_dashboard_is_never_served_to_a_visitor_nor_the_reverse(demo):
    app = _instance()
    visitor = app.test_client()
    admin = app.test_client()
    Auth(admin).login("pesawaran@balai.test")
    anonymous_first = visitor.get("/wilayah/18.09").get_data(as_text=True)
    assert "Calon lokasi Smart Village" not in anonymous_first
    assert "Calon lokasi Smart Village" in admin.get("/wilayah/18.09").get_data(as_text=True)
    assert "Calon lokasi Smart Village" not in visitor.get("/wilayah/18.09").get_data(as_text=True)
    # Nor a form's CSRF token, nor a session: the visitor's page carries none of the admin's.
    assert admin.get_cookie("session").value not in visitor.get("/wilayah/18.09").get_data(as_text=True)
    _close(app)


def test_a_notification_sent_keeps_the_caches_but_a_request_filed_empties_them(app, demo):
    from app.models.notifications import PushSubscription

    cache = app.extensions["balai_data_cache"]
    before = cache.generation()
    request_id = db.session.scalar(select(ServiceRequest.id))
    db.session.add(
        PushSubscription(request_id=request_id, endpoint="https://push.example/x", p256dh="k", auth="a")
    )
    db.session.commit()
    assert cache.generation() == before  # a broadcast writes thousands of these; no page shows them
    db.session.scalar(select(ServiceRequest)).purpose = "Diubah"
    db.session.commit()
    assert cache.generation() != before


def test_a_kept_form_never_carries_the_csrf_token_of_the_visitor_who_filled_the_cache(processes):
    """A blank request form is rendered once for everyone; its CSRF token is each visitor's own.

    (It once kept the token of whoever filled the cache: the next visitor's form was refused as
    expired, and anyone could read another session's token.)"""
    import re

    from tests.conftest import csrf_from

    app = processes[0]
    first, second = app.test_client(), app.test_client()
    pages = [c.get("/desa/hanura/layanan/domisili").get_data(as_text=True) for c in (first, second)]
    tokens = [csrf_from(page) for page in pages]
    assert tokens[0] != tokens[1]
    for page in pages:
        form_tokens = set(re.findall(r'name="csrf_token"[^>]*value="([^"]+)"', page))
        header_token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)  # rendered per request
        assert form_tokens == {header_token}, "the form's token is this page's own"
        assert "balai-csrf-" not in page and "balai-key-" not in page
    keys = [re.search(r'name="idempotency_key"[^>]*value="([^"]+)"', p).group(1) for p in pages]
    assert keys[0] != keys[1]
    # The second visitor's own token is accepted (the check step answers with the form, not 400).
    checked = second.post(
        "/desa/hanura/layanan/domisili",
        data={"csrf_token": tokens[1], "idempotency_key": keys[1], "nik": "123"},
        content_type="multipart/form-data",
    )
    assert checked.status_code == 422


def test_the_blank_form_kept_whole_gives_each_visit_its_own_token_and_key_and_shows_a_change_at_once(
    processes,
):
    """Anonymous visitors share one rendering of the whole blank request form (the page around it
    too); each visit gets its own idempotency key, each session its own CSRF token, and a change
    of the service (its name, its fields) shows on the next page, in this process and another."""
    import re

    from app.models import Service

    here, there = processes
    path = "/desa/hanura/layanan/domisili"

    def visit(client) -> tuple[str, str, str]:
        response = client.get(path)
        assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
        html = response.get_data(as_text=True)
        assert "balai-csrf-" not in html and "balai-key-" not in html and "balai-css-" not in html
        tokens = set(re.findall(r'name="csrf_token"[^>]*value="([^"]+)"', html))
        tokens.add(re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1))
        assert len(tokens) == 1, "the form's token and htmx's header are this page's own"
        key = re.search(r'name="idempotency_key"[^>]*value="([^"]+)"', html).group(1)
        return html, tokens.pop(), key

    first, second = here.test_client(), here.test_client()
    visits = [visit(first), visit(second), visit(first), visit(second)]
    assert visits[0][1] != visits[1][1]  # two sessions, two tokens
    assert len({key for _html, _token, key in visits}) == 4  # a new key on every visit
    assert visits[2][1] != visits[3][1]

    with here.app_context():
        service = db.session.scalar(select(Service).where(Service.code == "domisili"))
        service.name = "Surat Domisili Baru"
        service.fields = [*service.fields, {"name": "rt_baru", "label": "Nomor RT baru"}]
        db.session.commit()
    for app in (here, there):
        html, _token, _key = visit(app.test_client())
        assert "<title>Surat Domisili Baru · Balai</title>" in html and "Nomor RT baru" in html
    html, _token, _key = visit(first)
    assert "Surat Domisili Baru" in html and 'name="d_rt_baru"' in html


def test_a_page_kept_whole_for_visitors_fills_in_each_ones_stylesheet_token_and_header(demo):
    """Anonymous visitors share one rendering of the whole page (app/web.py render_shared); what
    differs per visitor (first visit's inline CSS, a session's CSRF header, a message waiting, a
    signed-in official's header) is never kept for, nor taken from, another."""
    import re

    app = _instance()
    first = app.test_client()
    page = first.get("/desa/hanura/layanan")
    html = page.get_data(as_text=True)
    assert "<style>" in html and "css=" in page.headers["Set-Cookie"]  # first visit: CSS inline
    assert "hx-headers" not in html and first.get_cookie("session") is None
    again = first.get("/desa/hanura/layanan").get_data(as_text=True)
    assert "<style>" not in again and 'rel="stylesheet" href="/static/css/balai.css?v=' in again
    assert app.test_client().get("/desa/hanura/layanan").get_data(as_text=True) == html

    # A visitor with a session token gets the htmx CSRF header, carrying that session's own token.
    with_token = [app.test_client() for _ in range(2)]
    tokens = []
    for client in with_token:
        form = client.get("/desa/hanura/layanan/domisili").get_data(as_text=True)
        tokens.append(re.search(r'"X-CSRFToken": "([^"]+)"', form).group(1))
        html = client.get("/desa/hanura/layanan").get_data(as_text=True)
        assert re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1) == tokens[-1]
        assert "balai-csrf-" not in html and "balai-css-" not in html
    assert tokens[0] != tokens[1]

    # A message waiting is shown to its visitor, once, and to nobody else.
    flashed = app.test_client()
    with flashed.session_transaction() as session:
        session["_flashes"] = [("message", "Pesan untuk satu orang")]
    assert "Pesan untuk satu orang" in flashed.get("/desa/hanura/layanan").get_data(as_text=True)
    assert "Pesan untuk satu orang" not in flashed.get("/desa/hanura/layanan").get_data(as_text=True)
    assert "Pesan untuk satu orang" not in first.get("/desa/hanura/layanan").get_data(as_text=True)

    # An official's header (name, sign-out form) is theirs; a visitor after them gets the public one.
    official = app.test_client()
    Auth(official).login("operator.hanura@balai.test")
    mine = official.get("/desa/hanura/layanan").get_data(as_text=True)
    assert "Rina Operator Hanura" in mine and "Masuk petugas" not in mine
    public = app.test_client().get("/desa/hanura/layanan").get_data(as_text=True)
    assert "Rina Operator Hanura" not in public and "Masuk petugas" in public

    # The language chosen is the visitor's own.
    english = app.test_client()
    assert '<html lang="en">' in english.get("/desa/hanura/layanan?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in english.get("/desa/hanura/layanan").get_data(as_text=True)
    assert '<html lang="id">' in app.test_client().get("/desa/hanura/layanan").get_data(as_text=True)
    _close(app)


def test_a_shown_village_is_the_kept_row_itself_until_a_write_replaces_it(demo):
    """Public pages that only show a village read the row kept for every request, unmerged."""
    from app.web import shown_village_or_404

    app = _instance()
    with app.test_request_context("/desa/hanura/"):
        first = shown_village_or_404("hanura")
        assert first not in db.session
    with app.test_request_context("/desa/hanura/"):
        assert shown_village_or_404("hanura") is first
    _rename(app, "Hanura Lain")
    with app.test_request_context("/desa/hanura/"):
        again = shown_village_or_404("hanura")
        assert again is not first and again.name == "Hanura Lain"
    assert "Hanura Lain" in _home(app)
    _close(app)
