"""What anyone holding a tracking code may see, kept until the next write (app/tracked.py find_public,
kept_statuses; the receipt's card): a change shows at once in this process and in another, the kept
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
from tests.conftest import Auth
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


def test_the_kept_receipt_card_never_holds_the_private_link_nor_serves_it_to_another_phone(demo, app):
    code, _name = _open_request(app)
    phone, token = _sender(app, code)
    assert token in phone.get(f"/tanda-terima/{code}").get_data(as_text=True)
    cache = app.extensions["balai_data_cache"]
    assert any(key[0] == "receipt-card" for key in cache._entries)
    assert all(token not in str(value) for _generation, value in cache._entries.values())
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
