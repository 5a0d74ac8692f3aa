"""The public tracking page kept until the next write (app/tracked.py find_public): a status change
shows at once in this process and in another, the kept request never holds a full name, unknown
codes are not kept, and the sender's and the officials' views are never the kept one."""

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


def test_the_operator_and_the_sender_never_get_the_kept_page(demo, app):
    code, name = _open_request(app)
    _track(app, code)  # kept for anyone
    operator = app.test_client()
    Auth(operator).login("operator.hanura@balai.test")
    page = _track(app, code, operator)
    assert name in page and "Untuk petugas" in page
    anyone = _track(app, code)
    assert name not in anyone and "Untuk petugas" not in anyone
    sender = app.test_client()  # the phone that sent it: its receipt is in its session
    with app.app_context():
        token = workflow.issue_private_link(workflow.find_by_code(code), "test")
        db.session.commit()
    with sender.session_transaction() as session:
        session["receipts"] = {code: receipts.seal(code, token)}
    own = _track(app, code, sender)
    assert "Halaman pribadi" in own and "Halaman pribadi" not in _track(app, code)
