"""Notifications without Redis: the outbox, channels against real local servers, the bell and pages.

Jobs run inline after the commit here (TESTING), exactly the code rq runs; retries under a real rq
worker are in test_notifications_rq.py.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app import events
from app.domain import states
from app.extensions import db
from app.models import Role, ServiceRequest, User
from app.models.notifications import (
    CANCELLED,
    DELIVERED,
    PERMANENT_FAILURE,
    TECHNICAL_FAILURE,
    TEMPORARY_FAILURE,
    Delivery,
    InAppMessage,
    Notification,
    PushSubscription,
)
from app.notifications import jobs, messages, outbox
from app.workflow import apply_action, submit_request
from tests.conftest import csrf_from, is_postgres, without_csrf
from tests.test_notifications_support import (
    Browser,
    Gateway,
    Smtp,
    add_official,
    make_village,
    set_channels,
    submit,
)


@pytest.fixture
def smtp(app, monkeypatch):
    with Smtp() as server:
        monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
        monkeypatch.setitem(app.config, "MAIL_PORT", server.port)
        yield server


@pytest.fixture
def gateway(app):
    with Gateway() as gw:
        yield gw


@pytest.fixture
def vapid(app, monkeypatch):
    from app.notifications.channels.push import generate_keys

    private, public = generate_keys()
    monkeypatch.setitem(app.config, "VAPID_PRIVATE_KEY", private)
    monkeypatch.setitem(app.config, "VAPID_PUBLIC_KEY", public)
    monkeypatch.setitem(app.config, "PUSH_ENDPOINT_HOSTS", ["127.0.0.1"])
    return public


def notifications(**filters):
    return db.session.scalars(select(Notification).filter_by(**filters).order_by(Notification.id)).all()


# --- messages ------------------------------------------------------------------------------------


def test_every_resident_message_fits_one_sms_and_carries_the_tracking_link():
    params = {
        "village": "Desa Hanura",
        "service": "Surat Keterangan Tidak Mampu untuk Beasiswa Pendidikan",
        "code": "7KQ2-MX9D-4T",
        "status": "siap_diambil",
        "note": "Foto KTP buram dan tidak terbaca, mohon unggah ulang foto yang lebih jelas " * 3,
    }
    for kind in ("request_received", "status_changed", "needs_fix", "ready", "rejected", "done"):
        for locale in ("id", "en"):
            rendered = messages.render(kind, params, locale, "https://balai.example.id")
            assert len(rendered.text) <= messages.SMS_LIMIT, (kind, locale, rendered.text)
            assert "https://balai.example.id/lacak/7KQ2-MX9D-4T" in rendered.text
            assert rendered.text.isascii()


def test_messages_speak_english_only_to_residents_who_chose_it():
    params = {"village": "Desa Hanura", "code": "7KQ2-MX9D-4T", "status": "diproses"}
    assert "kini diproses" in messages.render("status_changed", params, "id", "http://x").text
    assert "is now in progress" in messages.render("status_changed", params, "en", "http://x").text
    assert "kini diproses" in messages.render("status_changed", params, None, "http://x").text


# --- the outbox ----------------------------------------------------------------------------------


def test_notification_rows_are_written_in_the_same_transaction_as_the_request(app):
    village, service = make_village()
    submit(village, service)
    db.session.rollback()
    assert db.session.scalar(select(func.count(ServiceRequest.id))) == 0
    assert db.session.scalar(select(func.count(Notification.id))) == 0
    assert db.session.scalar(select(func.count(InAppMessage.id))) == 0


def test_a_submitted_request_reaches_the_resident_by_whatsapp_and_email_and_the_officials_in_app(
    app, smtp, gateway
):
    village, service = make_village()
    set_channels(village, whatsapp="webhook", whatsapp_url=gateway.url + "/wa", token="rahasia")
    official = add_official(village, "operator.notif@balai.test")
    req = submit(village, service, email="siti@example.com")
    db.session.commit()

    [wa] = gateway.json_bodies()
    assert wa["to"] == "+6281234567890" and wa["channel"] == "whatsapp"
    assert f"http://balai.test/lacak/{req.tracking_code}" in wa["message"]
    assert gateway.requests[0]["headers"]["authorization"] == "Bearer rahasia"
    emails = [m for m in smtp.messages if m[0] == ["siti@example.com"]]
    assert len(emails) == 1 and req.tracking_code in emails[0][1]
    # The official: one in-app message, and an email of their own.
    assert [
        m.kind for m in db.session.scalars(select(InAppMessage).where(InAppMessage.user_id == official.id))
    ] == ["new_request"]
    assert any(m[0] == [official.email] for m in smtp.messages)
    states_ = {(n.route, n.state) for n in notifications()}
    assert states_ == {("resident", DELIVERED), ("resident-email", DELIVERED), ("user-email", DELIVERED)}
    delivery = db.session.scalar(select(Delivery).where(Delivery.channel == "whatsapp"))
    assert delivery.recipient == "+62 812-*****-7890" or "****" in delivery.recipient
    assert delivery.provider_message_id == "gw-0" and delivery.attempts == 1


def test_status_changes_send_updates_and_a_newer_status_cancels_an_unsent_older_one(app, gateway):
    village, service = make_village()
    set_channels(village, whatsapp="webhook", whatsapp_url=gateway.url)
    req = submit(village, service)
    db.session.commit()
    apply_action(req, "verify", actor=None)
    db.session.commit()
    assert "kini diverifikasi" in gateway.json_bodies()[-1]["message"]

    # Two changes in one transaction: only the newest is worth a message.
    apply_action(req, "start", actor=None)
    apply_action(req, "mark_ready", actor=None)
    db.session.commit()
    kinds = [(n.kind, n.state) for n in notifications(route="resident")]
    assert kinds[-2:] == [("status_changed", CANCELLED), ("ready", DELIVERED)]
    assert "siap diambil" in gateway.json_bodies()[-1]["message"]
    assert len(gateway.requests) == 3


def test_a_request_that_needs_fixing_tells_the_resident_what_to_fix(app, gateway):
    village, service = make_village()
    set_channels(village, whatsapp="webhook", whatsapp_url=gateway.url)
    req = submit(village, service)
    db.session.commit()
    apply_action(req, "request_fix", actor=None, note="Foto KTP buram")
    db.session.commit()
    assert "perlu perbaikan: Foto KTP buram" in gateway.json_bodies()[-1]["message"]


def test_residents_who_stopped_messages_get_none(app, client, gateway):
    village, service = make_village()
    set_channels(village, whatsapp="webhook", whatsapp_url=gateway.url)
    req = submit(village, service)
    db.session.commit()
    code = req.tracking_code
    _sent_from_this_phone(client, code)
    response = client.post(f"/lacak/{code}/pesan", data={"action": "stop", "csrf_token": _csrf(client)})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/lacak/{code}")
    db.session.rollback()
    req = db.session.get(ServiceRequest, req.id)
    assert req.notify is False
    apply_action(req, "verify", actor=None)
    db.session.commit()
    assert len(gateway.requests) == 1  # only the receipt, sent before they stopped

    client.post(f"/lacak/{code}/pesan", data={"action": "resume", "csrf_token": _csrf(client)})
    db.session.rollback()
    apply_action(db.session.get(ServiceRequest, req.id), "start", actor=None)
    db.session.commit()
    assert len(gateway.requests) == 2


def test_the_stop_form_posts_to_the_stop_route(app):
    from flask import render_template

    village, service = make_village()
    req = submit(village, service)
    db.session.commit()
    with app.test_request_context():
        html = render_template("notifications/_stop.html", req=req)
    assert f'action="/lacak/{req.tracking_code}/pesan"' in html and 'name="csrf_token"' in html


def test_someone_who_only_knows_the_code_cannot_stop_resume_or_subscribe(app, client, vapid):
    # The code is on the public queue screen; knowing it must not let a stranger act for the resident.
    village, service = make_village()
    mine, other = (
        _with_private_link(village, service, "stranger-1"),
        _with_private_link(village, service, "stranger-2"),
    )
    db.session.commit()
    code = mine.request.tracking_code
    token = _csrf(client)
    for action in ("stop", "resume"):
        refused = client.post(f"/lacak/{code}/pesan", data={"action": action, "csrf_token": token})
        assert refused.status_code == 403
        assert "link pribadi" in refused.get_data(as_text=True)
    # Another request's private link proves nothing about this one.
    crossed = {"action": "stop", "csrf_token": token, "token": other.fix_token}
    assert client.post(f"/lacak/{code}/pesan", data=crossed).status_code == 403
    browser = Browser("http://127.0.0.1:9/push/stranger")
    for body in (browser.subscription, {**browser.subscription, "token": other.fix_token}):
        pushed = _push(client, code, json.dumps(body), token)
        assert pushed.status_code == 403 and "link pribadi" in pushed.get_json()["error"]
    # An unknown code answers exactly the same: no hint that a code exists.
    unknown = client.post("/lacak/2222-2222-22/pesan", data={"action": "stop", "csrf_token": token})
    assert unknown.status_code == 403
    db.session.rollback()
    assert db.session.get(ServiceRequest, mine.request.id).notify is True
    assert db.session.scalar(select(func.count(PushSubscription.id))) == 0
    # Nor does the public tracking page offer the forms to a stranger.
    page = client.get(f"/lacak/{code}").get_data(as_text=True)
    assert "/pesan" not in page and "data-push" not in page


def test_the_private_page_stops_resumes_and_subscribes_this_phone(app, client, vapid):
    village, service = make_village()
    sent = _with_private_link(village, service, "private-page")
    db.session.commit()
    code, private = sent.request.tracking_code, f"/permohonan/{sent.fix_token}"
    page = client.get(private).get_data(as_text=True)
    form = page[page.index(f'action="/lacak/{code}/pesan"') :]
    assert f'name="token" value="{sent.fix_token}"' in form[: form.index("</form>")]
    stop = {"csrf_token": csrf_from(form), "token": sent.fix_token, "action": "stop"}
    response = client.post(f"/lacak/{code}/pesan", data=stop)
    assert response.status_code == 303 and response.headers["Location"].endswith(private)
    db.session.rollback()
    assert db.session.get(ServiceRequest, sent.request.id).notify is False
    client.post(f"/lacak/{code}/pesan", data={**stop, "action": "resume"})
    db.session.rollback()
    assert db.session.get(ServiceRequest, sent.request.id).notify is True

    page = client.get(private).get_data(as_text=True)
    assert f'data-token="{sent.fix_token}"' in page and f'data-url="/lacak/{code}/push"' in page
    browser = Browser("http://127.0.0.1:9/push/mine")
    pushed = _push(
        client, code, json.dumps({**browser.subscription, "token": sent.fix_token}), csrf_from(page)
    )
    assert pushed.status_code == 201, pushed.get_json()
    assert db.session.scalar(select(PushSubscription.request_id)) == sent.request.id


def test_the_phone_that_sent_it_stops_messages_from_its_tracking_page(app, client):
    village, service = make_village()
    req = submit(village, service)
    db.session.commit()
    stranger = app.test_client()
    assert "/pesan" not in stranger.get(f"/lacak/{req.tracking_code}").get_data(as_text=True)
    _sent_from_this_phone(client, req.tracking_code)
    page = client.get(f"/lacak/{req.tracking_code}").get_data(as_text=True)
    form = page[page.index(f'action="/lacak/{req.tracking_code}/pesan"') :]
    response = client.post(
        f"/lacak/{req.tracking_code}/pesan", data={"csrf_token": csrf_from(form), "action": "stop"}
    )
    assert response.status_code == 303
    db.session.rollback()
    assert db.session.get(ServiceRequest, req.id).notify is False


def test_deeply_nested_or_malformed_json_is_a_clear_400_not_a_500(app, client, vapid):
    village, service = make_village()
    req = submit(village, service)
    db.session.commit()
    _sent_from_this_phone(client, req.tracking_code)
    token = _csrf(client)
    deep = "[" * 50_000 + "]" * 50_000
    nested = '{"endpoint": ' + "{" * 3000 + "}" * 3000 + "}"
    for body in (deep, nested, '"just a string"', "[1, 2]", "{not json", '{"keys": [1]}'):
        response = _push(client, req.tracking_code, body, token)
        assert response.status_code in (400, 422), (body[:20], response.status_code)
        assert response.get_json()["error"], body[:20]
    # Every form takes a JSON body too (Flask-WTF reads it): the same answer there, never a 500.
    for body in (deep, "[1, 2]", '"x"'):
        response = client.post(
            "/akun/masuk", data=body, content_type="application/json", headers={"X-CSRFToken": token}
        )
        assert response.status_code == 400 and "JSON" in response.get_json()["error"]


def _with_private_link(village, service, key: str):
    """A request as the form stores it, with its private link (``.fix_token``)."""
    return submit_request(
        village,
        service,
        nik="1809100101900001",
        name="Siti Aminah",
        phone="+6281234567890",
        idempotency_key=key,
    )


def _push(client, code: str, body: str, csrf: str):
    """The push opt-in's POST, as push.js sends it."""
    return client.post(
        f"/lacak/{code}/push", data=body, content_type="application/json", headers={"X-CSRFToken": csrf}
    )


def _sent_from_this_phone(client, code: str) -> None:
    """What the request form leaves in the session of the phone that sent it (its receipts)."""
    with client.session_transaction() as session:
        session["receipts"] = {**session.get("receipts", {}), code: ""}


def _csrf(client) -> str:
    return csrf_from(client.get("/akun/masuk").get_data(as_text=True))


def test_running_the_delivery_job_twice_never_sends_twice(app, gateway):
    village, service = make_village()
    set_channels(village, whatsapp="webhook", whatsapp_url=gateway.url)
    submit(village, service)
    db.session.commit()
    [n] = notifications(route="resident")
    assert jobs.deliver(n.id) == "skipped"
    assert jobs.deliver(n.id) == "skipped"
    assert len(gateway.requests) == 1


def test_the_relay_hands_over_each_row_once(app, gateway):
    village, service = make_village()
    set_channels(village, whatsapp="webhook", whatsapp_url=gateway.url)
    submit(village, service)
    db.session.commit()
    assert outbox.relay() == 0
    assert outbox.sweep() == 0
    assert len(gateway.requests) == 1


@pytest.mark.skipif(not is_postgres(), reason="SKIP LOCKED is PostgreSQL's; SQLite has one writer")
def test_two_relays_never_claim_the_same_rows_on_postgresql(app):
    from sqlalchemy.orm import Session

    village, service = make_village()
    req = submit(village, service, phone=None)
    rows = [
        Notification(
            kind="status_changed", route="resident", village_id=village.id, request_id=req.id, params={}
        )
        for _ in range(6)
    ]
    db.session.add_all(rows)
    db.session.commit()
    stmt = (
        select(Notification.id)
        .where(Notification.relayed_at.is_(None))
        .order_by(Notification.id)
        .limit(3)
        .with_for_update(skip_locked=True)
    )
    with Session(db.engine) as first, Session(db.engine) as second:
        a = first.scalars(stmt).all()
        b = second.scalars(stmt).all()
        assert len(a) == 3 and len(b) == 3 and not set(a) & set(b)
        first.rollback()
        second.rollback()


def _sql_counter():
    """Statements sent to the database from now on (an executemany counts once)."""
    from sqlalchemy import event

    seen = []

    def count(*_args, **_kwargs):
        seen.append(1)

    event.listen(db.engine, "before_cursor_execute", count)
    return seen, lambda: event.remove(db.engine, "before_cursor_execute", count)


def test_a_batch_of_messages_costs_a_few_statements_not_a_dozen_each(app, gateway, smtp):
    village, service = make_village()
    set_channels(village, whatsapp="webhook", whatsapp_url=gateway.url)
    for i in range(30):
        submit(village, service, phone=f"+6281234567{i:03d}", email=f"warga{i}@example.com")
    db.session.info.pop("balai_after_commit")  # left for the relay below, in one go
    db.session.commit()
    seen, stop = _sql_counter()
    try:
        assert outbox.relay() == 60
    finally:
        stop()
    assert len(gateway.requests) == 30 and len(smtp.messages) == 30
    assert len(notifications(state=DELIVERED)) == 60
    # Relay 2 + per batch (WhatsApp, email): claim, request rows, settings, 2 deliveries, 1 outcome.
    assert len(seen) <= 16, len(seen)
    [d] = db.session.get(Notification, notifications(route="resident")[0].id).deliveries
    assert (d.state, d.attempts, d.provider_message_id) == (DELIVERED, 1, "gw-0")


def test_a_batch_that_would_outlive_its_lease_gives_the_rest_back_and_they_go_out_next(app, monkeypatch):
    monkeypatch.setitem(app.config, "NOTIFY_LEASE_SECONDS", 2)  # a batch stops starting sends after 1 s
    with Gateway(delay_first=1.5) as wa:
        village, service = make_village()
        set_channels(village, whatsapp="webhook", whatsapp_url=wa.url)
        for i in range(3):
            submit(village, service, phone=f"+6281234567{i:03d}")
        db.session.info.pop("balai_after_commit")
        db.session.commit()
        assert outbox.relay() == 3  # one batch; the first send takes 1.5 s, the other two are given back
    sent = notifications(route="resident")
    assert [n.state for n in sent] == [DELIVERED] * 3 and len(wa.requests) == 3
    # Given back untried: neither the notification nor its delivery counts an attempt for it, and
    # the two were handed over again (after the first send), not left for the sweep.
    assert [(n.attempts, n.deliveries[0].attempts) for n in sent] == [(1, 1)] * 3
    assert sent[0].relayed_at < sent[1].relayed_at == sent[2].relayed_at


def test_a_broadcast_to_more_subscribers_than_one_relay_takes_is_handed_over_at_once(app):
    village, service = make_village()
    for i in range(510):
        req = submit(village, service, phone=None)
        db.session.add(
            PushSubscription(request_id=req.id, endpoint=f"https://push.test/{i}", p256dh="k", auth="a")
        )
    db.session.commit()
    events.emit(
        events.ANNOUNCEMENT_PUBLISHED, announcement_id=1, village_id=village.id, title="Rapat", path="/"
    )
    db.session.commit()
    sent = notifications(kind="announcement")
    assert len(sent) == 510
    # No push keys here, so each ends cancelled; what matters is that none waits for the sweep.
    assert all(n.relayed_at is not None and n.state == CANCELLED for n in sent)
    assert len({n.dedupe_key for n in sent}) == 510


# --- channels ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("+628999000001", PERMANENT_FAILURE),
        ("+628999000002", TEMPORARY_FAILURE),
        ("+628999000003", TECHNICAL_FAILURE),
        ("+628999000004", TEMPORARY_FAILURE),
        ("+6281234567890", DELIVERED),
    ],
)
def test_the_simulators_magic_numbers_produce_each_outcome(app, number, expected):
    village, service = make_village()
    set_channels(village, whatsapp="simulator")
    submit(village, service, phone=number)
    db.session.commit()
    [n] = notifications(route="resident")
    assert n.state == expected
    assert n.deliveries[0].state == expected and n.deliveries[0].attempts == 1


def test_a_temporary_failure_is_retried_by_the_sweep_once_its_back_off_has_passed(app, monkeypatch):
    from datetime import timedelta

    from app.models import utcnow

    village, service = make_village()
    set_channels(village, whatsapp="simulator")
    submit(village, service, phone="+628999000004")  # fails once, then delivers
    db.session.commit()
    [n] = notifications(route="resident")
    assert n.state == TEMPORARY_FAILURE and n.next_attempt_at is not None
    assert outbox.sweep() == 0  # not due yet
    n.next_attempt_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert outbox.sweep() == 1
    db.session.rollback()
    n = db.session.get(Notification, n.id)
    assert n.state == DELIVERED and n.attempts == 2 and n.deliveries[0].attempts == 2


def test_whatsapp_falls_back_to_sms_when_the_number_is_not_on_whatsapp(app):
    with Gateway(statuses=(404,)) as wa, Gateway() as sms:
        village, service = make_village()
        set_channels(village, whatsapp="webhook", whatsapp_url=wa.url, sms="webhook", sms_url=sms.url)
        submit(village, service)
        db.session.commit()
    [n] = notifications(route="resident")
    assert n.state == DELIVERED and n.channel == "sms"
    assert [(d.channel, d.state) for d in n.deliveries] == [
        ("whatsapp", PERMANENT_FAILURE),
        ("sms", DELIVERED),
    ]
    assert sms.json_bodies()[0]["channel"] == "sms"


def test_the_fonnte_adapter_posts_target_and_message_with_the_token_header(app):
    with Gateway(body={"status": True, "id": ["80367170"], "process": "pending"}) as fonnte:
        village, service = make_village()
        set_channels(village, whatsapp="fonnte", whatsapp_url=fonnte.url + "/send", token="TOKEN123")
        req = submit(village, service)
        db.session.commit()
    [form] = fonnte.form_bodies()
    assert form["target"] == "6281234567890" and req.tracking_code in form["message"]
    assert fonnte.requests[0]["headers"]["authorization"] == "TOKEN123"
    [n] = notifications(route="resident")
    assert n.state == DELIVERED and n.deliveries[0].provider_message_id == "80367170"


def test_fonnte_reasons_become_delivery_states(app):
    from app.notifications.channels import Outgoing
    from app.notifications.channels.gateways import Fonnte

    out = Outgoing("whatsapp", "+6281234567890", "hi", "t", "u", "/", "ref", "done", "id")
    for reason, state in (("invalid token", TECHNICAL_FAILURE), ("target invalid", PERMANENT_FAILURE)):
        with Gateway(body={"status": False, "reason": reason}) as fonnte:
            assert Fonnte("t", fonnte.url).send(out).state == state


def test_the_cloud_api_adapter_sends_an_approved_template_with_a_bearer_token(app):
    with Gateway(body={"messages": [{"id": "wamid.HBgM"}]}) as meta:
        village, service = make_village()
        set_channels(
            village,
            whatsapp="cloud",
            whatsapp_url=meta.url + "/v21.0",
            token="EAAG",
            sender="1234567890",
            templates={"request_received": "balai_diterima"},
        )
        req = submit(village, service, locale="en")
        db.session.commit()
    [body] = meta.json_bodies()
    assert meta.requests[0]["path"] == "/v21.0/1234567890/messages"
    assert meta.requests[0]["headers"]["authorization"] == "Bearer EAAG"
    assert body["type"] == "template" and body["to"] == "6281234567890"
    assert body["template"]["name"] == "balai_diterima" and body["template"]["language"] == {"code": "en"}
    texts = [p["text"] for p in body["template"]["components"][0]["parameters"]]
    assert req.tracking_code in texts and f"http://balai.test/lacak/{req.tracking_code}" in texts
    [n] = notifications(route="resident")
    assert n.deliveries[0].provider_message_id == "wamid.HBgM"


def test_a_web_push_arrives_encrypted_and_decrypts_with_the_subscriptions_keys(app, client, vapid):
    village, service = make_village()
    req = submit(village, service, phone=None)
    db.session.commit()
    _sent_from_this_phone(client, req.tracking_code)
    with Gateway(statuses=(201,)) as push_service:
        browser = Browser(push_service.url + "/push/abc")
        response = client.post(
            f"/lacak/{req.tracking_code}/push",
            data=json.dumps(browser.subscription),
            content_type="application/json",
            headers={"X-CSRFToken": _csrf(client)},
        )
        assert response.status_code == 201
        db.session.rollback()
        apply_action(db.session.get(ServiceRequest, req.id), "verify", actor=None)
        db.session.commit()
    [sent] = push_service.requests
    assert sent["headers"]["content-encoding"] == "aes128gcm"
    assert sent["headers"]["topic"] == f"req{req.id}"
    assert sent["headers"]["authorization"].startswith("vapid t=")
    payload = browser.decrypt(sent["raw"])
    assert payload["url"] == f"/lacak/{req.tracking_code}" and "kini diverifikasi" in payload["body"]
    assert payload["tag"] == f"req{req.id}"


def test_a_push_subscription_answered_410_is_removed_and_whatsapp_takes_over(app, vapid):
    with Gateway(statuses=(410,)) as push_service, Gateway() as wa:
        village, service = make_village()
        set_channels(village, whatsapp="webhook", whatsapp_url=wa.url)
        req = submit(village, service)
        browser = Browser(push_service.url + "/push/gone")
        keys = browser.subscription["keys"]
        db.session.add(PushSubscription(request_id=req.id, endpoint=browser.subscription["endpoint"], **keys))
        db.session.commit()
    assert db.session.scalar(select(func.count(PushSubscription.id))) == 0
    n = notifications(route="resident")[0]
    assert [(d.channel, d.state) for d in n.deliveries] == [
        ("push", PERMANENT_FAILURE),
        ("whatsapp", DELIVERED),
    ]
    assert len(wa.requests) == 1


def test_push_subscriptions_to_unknown_hosts_are_refused(app, client, vapid):
    village, service = make_village()
    req = submit(village, service)
    db.session.commit()
    _sent_from_this_phone(client, req.tracking_code)
    for endpoint in ("http://10.0.0.5/steal", "https://evil.example.com/push", "file:///etc/passwd"):
        browser = Browser(endpoint)
        response = client.post(
            f"/lacak/{req.tracking_code}/push",
            data=json.dumps(browser.subscription),
            content_type="application/json",
            headers={"X-CSRFToken": _csrf(client)},
        )
        assert response.status_code == 422
    assert db.session.scalar(select(func.count(PushSubscription.id))) == 0


def test_the_push_opt_in_carries_the_public_key_and_the_subscribe_url(app, vapid):
    from flask import render_template

    village, service = make_village()
    req = submit(village, service)
    db.session.commit()
    with app.test_request_context():
        html = render_template("notifications/_push_optin.html", req=req)
    assert f'data-key="{vapid}"' in html and f'data-url="/lacak/{req.tracking_code}/push"' in html
    assert "js/push.js" in html


def test_the_service_worker_shows_pushes_and_opens_their_link(client):
    body = client.get("/sw.js").get_data(as_text=True)
    assert 'addEventListener("push"' in body and 'addEventListener("notificationclick"' in body


def test_webpush_keys_prints_a_usable_key_pair(runner):
    from py_vapid import Vapid

    result = runner.invoke(args=["webpush", "keys"])
    lines = dict(line.split("=", 1) for line in result.output.split())
    vapid = Vapid.from_string(lines["VAPID_PRIVATE_KEY"])
    assert vapid.public_key is not None and len(lines["VAPID_PUBLIC_KEY"]) == 87


def test_no_phone_number_or_nik_reaches_the_logs(app, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    village, service = make_village()
    set_channels(village, whatsapp="simulator", sms="simulator")
    submit(village, service, phone="+628999000001")
    db.session.commit()
    assert caplog.records
    text = caplog.text
    assert "8999000001" not in text and "1809100101900001" not in text


# --- officials, managers and superadmins ---------------------------------------------------------


def test_the_bell_counts_unread_messages_and_opening_one_marks_it_read(app, auth, client):
    village, service = make_village()
    add_official(village, "operator.bell@balai.test")
    req = submit(village, service, phone=None)
    db.session.commit()
    auth.login("operator.bell@balai.test")
    page = client.get("/notifikasi").get_data(as_text=True)
    assert 'class="badge count">1<' in page and "Permohonan baru" in page
    message = db.session.scalar(select(InAppMessage))
    response = client.post(f"/notifikasi/{message.id}/buka", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 303 and response.headers["Location"] == f"/lacak/{req.tracking_code}"
    assert 'class="badge count"' not in client.get("/notifikasi").get_data(as_text=True)


def test_reading_all_messages_clears_the_bell(app, auth, client):
    village, service = make_village()
    add_official(village, "operator.all@balai.test")
    for _ in range(3):
        submit(village, service, phone=None)
    db.session.commit()
    auth.login("operator.all@balai.test")
    page = client.get("/notifikasi").get_data(as_text=True)
    assert 'class="badge count">3<' in page
    client.post("/notifikasi/baca-semua", data={"csrf_token": csrf_from(page)})
    assert 'class="badge count"' not in client.get("/notifikasi").get_data(as_text=True)


def test_nobody_opens_another_users_message(app, auth, client):
    village, service = make_village()
    add_official(village, "operator.a@balai.test")
    add_official(village, "operator.b@balai.test")
    submit(village, service, phone=None)
    db.session.commit()
    theirs = db.session.scalar(select(InAppMessage).join(User).where(User.email == "operator.a@balai.test"))
    auth.login("operator.b@balai.test")
    page = client.get("/notifikasi").get_data(as_text=True)
    assert (
        client.post(f"/notifikasi/{theirs.id}/buka", data={"csrf_token": csrf_from(page)}).status_code == 404
    )


def test_a_new_order_reaches_the_bumdes_managers_bell(app, auth, client):
    village, _ = make_village()
    manager = add_official(village, "bumdes.notif@balai.test", role=Role.BUMDES_MANAGER)
    manager.bumdes_id = 7
    other = add_official(village, "bumdes.other@balai.test", role=Role.BUMDES_MANAGER)
    other.bumdes_id = 8
    events.emit(
        events.ORDER_CREATED,
        order_id=41,
        bumdes_id=7,
        village_id=village.id,
        bumdes_name="BUMDes Hanura Jaya",
        summary="2 × Kopi robusta 250 g",
        path="/bumdes/pesanan/41",
    )
    db.session.commit()
    [message] = db.session.scalars(select(InAppMessage)).all()
    assert message.user_id == manager.id and message.url == "/bumdes/pesanan/41"
    auth.login("bumdes.notif@balai.test")
    page = client.get("/notifikasi").get_data(as_text=True)
    assert "BUMDes Hanura Jaya" in page and 'class="badge count">1<' in page


def test_permanent_failures_are_shown_to_that_villages_officials_only(app, auth, client):
    village, service = make_village()
    other, _ = make_village("trimulyo", "18.04.15.2004")
    set_channels(village, whatsapp="simulator")
    add_official(village, "operator.fail@balai.test")
    add_official(other, "operator.else@balai.test")
    req = submit(village, service, phone="+628999000001")
    db.session.commit()
    auth.login("operator.fail@balai.test")
    page = client.get("/notifikasi").get_data(as_text=True)
    assert "1 pesan ke warga gagal terkirim" in page
    failures = client.get("/notifikasi/gagal").get_data(as_text=True)
    assert req.tracking_code in failures and "+62 899-" in failures and "8999000001" not in failures
    assert "simulator: nomor tidak terdaftar" in failures
    auth.logout()
    auth.login("operator.else@balai.test")
    assert req.tracking_code not in client.get("/notifikasi/gagal").get_data(as_text=True)


def test_an_official_can_send_a_failed_message_again(app, auth, client):
    village, service = make_village()
    settings = set_channels(village, whatsapp="webhook", whatsapp_url="http://127.0.0.1:9/closed")
    add_official(village, "operator.again@balai.test")
    submit(village, service)
    db.session.commit()
    [n] = notifications(route="resident")
    assert n.state == TECHNICAL_FAILURE
    n.next_attempt_at = None  # out of attempts
    db.session.commit()
    with Gateway() as gw:
        settings.whatsapp_url = gw.url
        db.session.commit()
        auth.login("operator.again@balai.test")
        page = client.get("/notifikasi/gagal").get_data(as_text=True)
        response = client.post(f"/notifikasi/{n.id}/kirim-ulang", data={"csrf_token": csrf_from(page)})
        assert response.status_code == 303
    db.session.rollback()
    assert db.session.get(Notification, n.id).state == DELIVERED and len(gw.requests) == 1


def test_only_superadmins_see_the_job_queue_page(app, auth, client):
    village, _ = make_village()
    add_official(village, "operator.queue@balai.test")
    admin = add_official(village, "admin.queue@balai.test", role=Role.SUPERADMIN)
    admin.village_id = None
    db.session.commit()
    auth.login("operator.queue@balai.test")
    assert client.get("/notifikasi/admin").status_code == 403
    auth.logout()
    auth.login("admin.queue@balai.test")
    page = client.get("/notifikasi/admin")
    assert page.status_code == 200 and "Redis belum diatur" in page.get_data(as_text=True)


def test_the_demo_villages_send_through_the_simulator(app):
    from app.models.notifications import VillageChannels
    from app.notifications import demo

    village, _ = make_village()
    assert demo.seed({"hanura": village}, {})
    assert demo.seed({"hanura": village}, {}) == []  # running the seed again changes nothing
    settings = db.session.scalar(select(VillageChannels))
    assert (settings.whatsapp_gateway, settings.sms_gateway) == ("simulator", "simulator")


def test_an_operator_sets_their_villages_gateway_and_not_anothers(app, auth, client):
    from app.models.notifications import VillageChannels

    hanura, _ = make_village()
    trimulyo, _unused = make_village("trimulyo", "18.04.15.2004")
    add_official(hanura, "operator.gw@balai.test")
    db.session.commit()
    auth.login("operator.gw@balai.test")
    page = client.get(f"/notifikasi/saluran/{hanura.id}").get_data(as_text=True)
    response = client.post(
        f"/notifikasi/saluran/{hanura.id}",
        data={
            "csrf_token": csrf_from(page),
            "whatsapp_gateway": "fonnte",
            "whatsapp_url": "",
            "whatsapp_token": "tok-123",
            "whatsapp_sender": "",
            "whatsapp_templates": "",
            "sms_gateway": "none",
            "sms_url": "",
            "sms_token": "",
        },
    )
    assert response.status_code == 303
    db.session.rollback()
    settings = db.session.scalar(select(VillageChannels).where(VillageChannels.village_id == hanura.id))
    assert settings.whatsapp_gateway == "fonnte" and settings.whatsapp_token == "tok-123"
    assert "tok-123" not in client.get(f"/notifikasi/saluran/{hanura.id}").get_data(as_text=True)
    assert client.get(f"/notifikasi/saluran/{trimulyo.id}").status_code == 404
    bad = client.post(
        f"/notifikasi/saluran/{hanura.id}",
        data={
            "csrf_token": csrf_from(page),
            "whatsapp_gateway": "fonnte",
            "sms_gateway": "none",
            "whatsapp_templates": "tanpa tanda sama dengan",
        },
    )
    assert bad.status_code == 422


# --- periodic work -------------------------------------------------------------------------------


def test_the_daily_digest_tells_officials_about_overdue_requests_once(app, monkeypatch):
    from datetime import timedelta

    from app.workflow import local_today

    monkeypatch.setitem(app.config, "NOTIFY_DIGEST_HOUR", 0)
    village, service = make_village()
    official = add_official(village, "operator.digest@balai.test")
    late = submit(village, service, phone=None)
    late.due_date = local_today() - timedelta(days=2)
    today = submit(village, service, phone=None)
    today.due_date = local_today()
    done = submit(village, service, phone=None)
    done.due_date = local_today() - timedelta(days=5)
    done.status = states.SELESAI
    db.session.commit()
    assert jobs.sla_digest() == 1
    assert jobs.sla_digest() == 0
    [digest] = db.session.scalars(
        select(InAppMessage).where(InAppMessage.user_id == official.id, InAppMessage.kind == "sla_digest")
    ).all()
    assert "1 permohonan lewat tenggat, 1 jatuh tempo hari ini" in digest.body


def test_clean_up_forgets_old_read_messages(app):
    from datetime import timedelta

    from app.models import utcnow

    village, _service = make_village()
    official = add_official(village, "operator.clean@balai.test")
    db.session.add_all(
        [
            InAppMessage(
                user_id=official.id,
                kind="x",
                title="lama",
                read_at=utcnow(),
                created_at=utcnow() - timedelta(days=120),
            ),
            InAppMessage(
                user_id=official.id, kind="x", title="belum dibaca", created_at=utcnow() - timedelta(days=120)
            ),
        ]
    )
    db.session.commit()
    assert jobs.cleanup()["inapp"] == 1
    assert [m.title for m in db.session.scalars(select(InAppMessage))] == ["belum dibaca"]


def test_periodic_work_is_registered_for_the_worker():
    from app.jobs import PERIODIC

    paths = {p.path for p in PERIODIC}
    assert {
        "app.notifications.jobs.sweep",
        "app.notifications.jobs.sla_digest",
        "app.notifications.jobs.cleanup",
    } <= paths


def test_gateway_errors_are_stored_without_the_phone_number(app):
    with Gateway(statuses=(400,), body={"error": "target 6281234567890 is not a WhatsApp number"}) as wa:
        village, service = make_village()
        set_channels(village, whatsapp="webhook", whatsapp_url=wa.url)
        submit(village, service)
        db.session.commit()
    [n] = notifications(route="resident")
    assert n.state == PERMANENT_FAILURE
    assert "6281234567890" not in n.deliveries[0].provider_error
    assert "HTTP 400" in n.last_error and "6281234567890" not in n.last_error
    assert "WhatsApp number" not in n.last_error  # the gateway's answer is not passed on at all


# --- messages that let the resident act carry a private link (issue 14, item 3) -----------------

PRIVATE_PATH = r"/permohonan/([A-Za-z0-9_-]{43})"


def _links(gateway) -> list[str]:
    import re

    return [m for body in gateway.json_bodies() for m in re.findall(PRIVATE_PATH, body["message"])]


def test_fix_and_ready_messages_carry_a_private_link_that_is_stored_only_as_a_digest(
    app, client, gateway, caplog
):
    import logging

    caplog.set_level(logging.DEBUG)
    village, service = make_village()
    set_channels(village, whatsapp="webhook", whatsapp_url=gateway.url)
    req = submit(village, service)
    db.session.commit()
    assert _links(gateway) == []  # "received" points at the public tracking page
    apply_action(req, "request_fix", actor=None, note="Foto KTP buram.")
    db.session.commit()
    message = gateway.json_bodies()[-1]["message"]
    assert "buram. Buka: http://balai.test/permohonan/" in message and ".." not in message
    (token,) = _links(gateway)
    page = client.get(f"/permohonan/{token}")
    assert page.status_code == 200 and "Perbaiki permohonan" in page.get_data(as_text=True)

    for action in ("resubmit",):
        apply_action(req, action, actor=None, by=states.RESIDENT)
    for action in ("verify", "start", "mark_ready"):
        apply_action(req, action, actor=None)
    db.session.commit()
    assert "siap diambil" in gateway.json_bodies()[-1]["message"]
    tokens = _links(gateway)
    assert len(tokens) == 2 and client.get(f"/permohonan/{tokens[-1]}").status_code == 200

    stored = json.dumps([n.params for n in notifications()]) + json.dumps(
        [(d.recipient, d.provider_error) for d in db.session.scalars(select(Delivery))]
    )
    for token in tokens:
        assert token not in stored and token not in caplog.text


def test_a_fresh_link_goes_to_the_number_on_the_request_and_the_page_never_tells_if_it_matched(
    app, client, gateway
):
    village, service = make_village()
    set_channels(village, whatsapp="webhook", whatsapp_url=gateway.url)
    req = submit(village, service)
    db.session.commit()
    sent = len(gateway.requests)

    def ask(nik, phone, code=req.tracking_code):
        page = client.get("/lacak/tautan").get_data(as_text=True)
        return client.post(
            "/lacak/tautan",
            data={"csrf_token": csrf_from(page), "kode": code, "nik": nik, "phone": phone},
            follow_redirects=True,
        )

    wrong = ask("1809100101900002", "0812-3456-7890")
    assert len(gateway.requests) == sent  # nothing sent for a wrong NIK
    right = ask("1809100101900001", "0812 3456 7890")
    # The same answer either way (apart from the CSRF token, which carries the second it was signed).
    assert without_csrf(wrong.get_data(as_text=True)) == without_csrf(right.get_data(as_text=True))
    body = gateway.json_bodies()[-1]
    assert body.get("phone", body.get("to", "")).endswith("81234567890") or "81234567890" in json.dumps(body)
    (token,) = _links(gateway)[-1:]
    assert token not in right.get_data(as_text=True)
    assert client.get(f"/permohonan/{token}").status_code == 200
    # Three tries a day per code, wherever they come from: guessing NIKs gets nowhere.
    assert ask("1809100101900003", "0812-3456-7890").status_code == 200
    assert ask("1809100101900004", "0812-3456-7890").status_code == 429


def test_a_resident_who_stopped_messages_still_gets_the_link_they_asked_for(app, client, gateway):
    village, service = make_village()
    set_channels(village, whatsapp="webhook", whatsapp_url=gateway.url)
    req = submit(village, service)
    req.notify = False
    db.session.commit()
    page = client.get("/lacak/tautan").get_data(as_text=True)
    client.post(
        "/lacak/tautan",
        data={
            "csrf_token": csrf_from(page),
            "kode": req.tracking_code.lower(),
            "nik": "1809100101900001",
            "phone": "+6281234567890",
        },
    )
    assert len(_links(gateway)) == 1


@pytest.mark.parametrize(
    "note", ["Mohon foto ulang dengan terang.", "Foto KTP buram.", "Alamat belum lengkap"]
)
def test_an_officials_note_never_doubles_the_messages_period(note):
    for base in ("http://balai.test", "https://layanan.desa-hanura.lampungprov.go.id"):
        text = messages.render(
            "needs_fix",
            {
                "village": "Desa Hanura",
                "code": "7KQ4-MX9D-4T",
                "note": note,
                "path": "/permohonan/" + "x" * 43,
            },
            "id",
            base,
        ).text
        assert ".." not in text.replace("...", "") and "...." not in text, text
        assert text.endswith("/permohonan/" + "x" * 43)
