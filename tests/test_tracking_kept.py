"""What anyone holding a tracking code may see, kept until the next write (app/tracked.py find_public;
the receipt's card; my requests' list): a change shows at once in this process and in another, the kept
request never holds a full name or a private link, unknown codes are not kept, and the sender's and
the officials' views are never the kept one."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app import workflow
from app.domain import states
from app.extensions import db
from app.models import ServiceRequest, User, Village
from app.residents import receipts
from tests.conftest import Auth, without_csrf
from tests.processes import KINDS, two_processes


@pytest.fixture(params=KINDS)
def processes(request, demo, tmp_path):
    yield from two_processes(request, tmp_path)


def _open_request(app) -> tuple[str, str]:
    """(tracking code, full name) of one of Hanura's requests waiting for verification."""
    with app.app_context():
        village = db.session.scalar(select(Village).where(Village.slug == "hanura"))
        req = db.session.scalar(
            select(ServiceRequest)
            .where(ServiceRequest.village_id == village.id, ServiceRequest.status == states.DIAJUKAN)
            .order_by(ServiceRequest.id)
        )
        return req.tracking_code, req.name


def _act(app, code: str, action: str, note: str | None = None) -> None:
    with app.app_context():
        req = workflow.find_by_code(code)
        operator = db.session.scalar(select(User).where(User.email == "operator.hanura@balai.test"))
        workflow.apply_action(req, action, actor=operator, note=note)
        db.session.commit()


def _track(app, code: str, client=None) -> str:
    response = (client or app.test_client()).get(f"/lacak/{code}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _status_badge(html: str) -> str:
    return html.split('class="status-now"', 1)[1].split("</p>", 1)[0]


def test_a_status_change_shows_on_the_kept_tracking_page_here_and_in_another_process(processes):
    here, there = processes
    code, _name = _open_request(here)
    before = _status_badge(_track(here, code))
    assert _status_badge(_track(here, code)) == before  # kept now
    _act(here, code, "verify")
    after_here = _status_badge(_track(here, code))
    assert after_here != before and states.DIVERIFIKASI in after_here
    _track(there, code)  # kept there too
    _act(there, code, "request_fix", note="Foto KK buram, kirim ulang")
    page = _track(here, code)
    assert states.PERLU_PERBAIKAN in _status_badge(page)
    assert "Foto KK buram, kirim ulang" in page


def test_the_htmx_poll_of_a_kept_page_sees_a_change_and_answers_304_while_nothing_changed(demo, app):
    code, _name = _open_request(app)
    client = app.test_client()
    first = client.get(f"/lacak/{code}", headers={"HX-Request": "true"})
    etag = first.headers["ETag"]
    again = client.get(f"/lacak/{code}", headers={"HX-Request": "true", "If-None-Match": etag})
    assert again.status_code == 304
    _act(app, code, "verify")
    changed = client.get(f"/lacak/{code}", headers={"HX-Request": "true", "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert states.DIVERIFIKASI in _status_badge(changed.get_data(as_text=True))


def test_the_kept_request_holds_the_masked_name_never_the_full_one(demo, app):
    code, name = _open_request(app)
    page = _track(app, code)
    assert name not in page
    cache = app.extensions["balai_data_cache"]
    kept = [value for key, (_generation, value) in cache._entries.items() if key[0] == "tracked"]
    assert kept and all(req.name != name and name not in req.name for req in kept)
    assert all(name not in str(value) for _generation, value in cache._entries.values())


def test_unknown_codes_are_not_kept(demo, app):
    code, _name = _open_request(app)
    client = app.test_client()
    cache = app.extensions["balai_data_cache"]
    for last in "ABC":
        guess = code[:-1] + last
        if guess != code:
            assert client.get(f"/lacak/{guess}").status_code == 404
    assert not [key for key in cache._entries if key[0] == "tracked"]


def _sender(app, code: str):
    """A phone that sent the request: its receipt (with the private link) sealed in its session."""
    client = app.test_client()
    with app.app_context():
        token = workflow.issue_private_link(workflow.find_by_code(code), "test")
        db.session.commit()
    with client.session_transaction() as session:
        session["receipts"] = {code: receipts.seal(code, token)}
    return client, token


def _rename(app, name: str) -> None:
    with app.app_context():
        db.session.scalar(select(Village).where(Village.slug == "hanura")).name = name
        db.session.commit()


def test_a_change_shows_on_the_receipt_and_my_requests_here_and_in_another_process(processes):
    here, there = processes
    code, name = _open_request(here)
    phone, token = _sender(here, code)
    receipt = phone.get(f"/tanda-terima/{code}").get_data(as_text=True)
    assert code in receipt and token in receipt and name not in receipt
    mine = phone.get("/saya").get_data(as_text=True)
    assert states.DIAJUKAN in mine
    _rename(there, "Hanura Makmur")
    _act(there, code, "verify")
    receipt = phone.get(f"/tanda-terima/{code}").get_data(as_text=True)
    assert "Hanura Makmur" in receipt and token in receipt
    mine = phone.get("/saya").get_data(as_text=True)
    assert "Hanura Makmur" in mine and f"badge {states.DIVERIFIKASI}" in mine


def test_the_kept_receipt_never_holds_the_private_link_and_each_phone_gets_its_own(demo, app):
    code, _name = _open_request(app)
    phone, token = _sender(app, code)
    second, second_token = _sender(app, code)  # another phone holding the code with a link of its own
    assert second_token != token
    assert token in phone.get(f"/tanda-terima/{code}").get_data(as_text=True)
    cache = app.extensions["balai_data_cache"]
    kept = [key for key in cache._entries if "residents/receipt.html" in key]
    assert kept
    page = second.get(f"/tanda-terima/{code}").get_data(as_text=True)  # from the kept page
    assert second_token in page and token not in page
    assert [key for key in cache._entries if "residents/receipt.html" in key] == kept
    assert all(
        t not in str(value) for t in (token, second_token) for _generation, value in cache._entries.values()
    )
    other = app.test_client()  # a phone without the receipt is sent to the public tracking page
    response = other.get(f"/tanda-terima/{code}")
    assert response.status_code == 302 and f"/lacak/{code}" in response.headers["Location"]


def test_the_operator_and_the_sender_never_get_the_kept_page(demo, app):
    code, name = _open_request(app)
    _track(app, code)  # kept for anyone
    operator = app.test_client()
    Auth(operator).login("operator.hanura@balai.test")
    page = _track(app, code, operator)
    assert name in page and "Untuk petugas" in page
    anyone = _track(app, code)
    assert name not in anyone and "Untuk petugas" not in anyone
    sender, _token = _sender(app, code)
    own = _track(app, code, sender)
    assert "Halaman pribadi" in own and "Halaman pribadi" not in _track(app, code)


# --- the officials' queue without a search, kept for every official who may read the village ---------


def _queue(app, client, path: str = "/kantor/") -> str:
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def _signed_in(app, email: str):
    client = app.test_client()
    assert Auth(client).login(email).status_code == 302
    return client


def _hanura_id(app) -> int:
    with app.app_context():
        return db.session.scalar(select(Village.id).where(Village.slug == "hanura"))


def test_a_change_by_another_official_shows_on_the_kept_queue_here_and_in_another_process(processes):
    here, there = processes
    code, _name = _open_request(here)
    operator = _signed_in(here, "operator.hanura@balai.test")
    head = _signed_in(there, "kades.hanura@balai.test")
    new = "?status=diajukan"
    assert code in _queue(here, operator, "/kantor/" + new)
    assert code in _queue(there, head, "/kantor/" + new)  # kept in both now
    _act(there, code, "verify")
    assert code not in _queue(here, operator, "/kantor/" + new)
    assert code not in _queue(there, head, "/kantor/" + new)
    fragment = operator.get("/kantor/?status=diverifikasi", headers={"HX-Request": "true"})
    assert code in fragment.get_data(as_text=True)


def test_region_staff_and_the_village_desk_never_get_each_others_kept_queue(demo, app):
    hanura = _hanura_id(app)
    operator = _signed_in(app, "operator.hanura@balai.test")
    region = _signed_in(app, "provinsi@balai.test")
    desk = _queue(app, operator)
    read_only = _queue(app, region, f"/kantor/?desa={hanura}")
    assert "Hanura" in desk and "Hanura" in read_only
    assert "Hanya baca" in read_only and "Hanya baca" not in desk
    assert f"desa={hanura}" in read_only and f"desa={hanura}" not in desk.split("<main", 1)[1]
    assert "Hanya baca" not in _queue(app, operator)  # and the reverse, once both are kept
    other = _signed_in(app, "operator.trimulyo@balai.test")
    assert "Hanura" not in _queue(app, other).split("<main", 1)[1]
    assert other.get(f"/kantor/?desa={hanura}").status_code in (200, 403, 404)
    assert "Hanura" not in other.get(f"/kantor/?desa={hanura}").get_data(as_text=True).split("<main", 1)[1]


def test_each_official_gets_their_own_token_in_the_kept_queue_and_searches_are_never_kept(demo, app):
    from tests.conftest import csrf_from

    first = _signed_in(app, "operator.hanura@balai.test")
    second = _signed_in(app, "kades.hanura@balai.test")
    plain = _queue(app, first)
    one, two = csrf_from(plain), csrf_from(_queue(app, second))
    assert one != two
    code, _name = _open_request(app)
    with app.app_context():
        nik = workflow.find_by_code(code).nik
    for client, token in ((first, one), (second, two)):  # each token works for its own official
        found = client.post("/kantor/", data={"csrf_token": token, "q": nik})
        assert found.status_code == 200 and code in found.get_data(as_text=True)
    by_name = _queue(app, first, f"/kantor/?q={code}")
    assert code in by_name and without_csrf(by_name) != without_csrf(plain)
    assert without_csrf(_queue(app, first)) == without_csrf(plain)  # no search answer was kept for it
    cache = app.extensions["balai_data_cache"]
    kept = [key for key in cache._entries if key[0] in ("queue", "queue-rows")]
    assert kept and all(code not in repr(key) for key in kept)
    assert all(nik not in repr(key) for key in cache._entries)
