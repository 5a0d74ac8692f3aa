"""Village announcements sent with "broadcast": a Web Push to the village's subscribed browsers."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Region
from app.models.notifications import DELIVERED, Notification, PushSubscription
from app.models.profile import Announcement
from tests.test_notifications_support import (
    Browser,
    Gateway,
    add_official,
    make_village,
    set_channels,
    submit,
)


@pytest.fixture
def vapid(app, monkeypatch):
    from app.notifications.channels.push import generate_keys

    private, public = generate_keys()
    monkeypatch.setitem(app.config, "VAPID_PRIVATE_KEY", private)
    monkeypatch.setitem(app.config, "VAPID_PUBLIC_KEY", public)
    monkeypatch.setitem(app.config, "PUSH_ENDPOINT_HOSTS", ["127.0.0.1"])
    return public


def _subscribe(req, endpoint: str) -> Browser:
    browser = Browser(endpoint)
    db.session.add(PushSubscription(request_id=req.id, endpoint=endpoint, **browser.subscription["keys"]))
    return browser


def _other_village_code() -> str:
    return db.session.scalar(
        select(Region.code).where(Region.level == 4, Region.code != "18.09.10.2004").order_by(Region.code)
    )


def test_a_broadcast_announcement_pushes_to_the_villages_subscribers_and_nobody_else(
    app, client, auth, vapid
):
    with Gateway(statuses=(201,)) as push_service, Gateway() as whatsapp:
        village, service = make_village()
        other, other_service = make_village("lain", _other_village_code())
        set_channels(village, whatsapp="webhook", whatsapp_url=whatsapp.url)
        subscribed = submit(village, service, locale="en")
        stopped = submit(village, service)
        unsubscribed = submit(village, service)  # a phone number but no browser: not told
        elsewhere = submit(other, other_service)
        db.session.commit()  # the receipts go out now, by WhatsApp
        reader = _subscribe(subscribed, push_service.url + "/push/reader")
        _subscribe(stopped, push_service.url + "/push/stopped")
        _subscribe(elsewhere, push_service.url + "/push/elsewhere")
        stopped.notify = False
        add_official(village, "operator@hanura.test")
        db.session.commit()
        before = len(whatsapp.requests)
        assert unsubscribed.phone and before == 3 and push_service.requests == []

        auth.login("operator@hanura.test")
        response = auth.post(
            "/kelola-desa/pengumuman", {"title": "Kerja bakti Minggu", "body": "Di balai", "broadcast": "y"}
        )
        assert response.status_code == 302

    item = db.session.scalar(select(Announcement).where(Announcement.title == "Kerja bakti Minggu"))
    assert [r["path"] for r in push_service.requests] == ["/push/reader"]
    assert len(whatsapp.requests) == before  # no WhatsApp or SMS for announcements
    [sent] = push_service.requests
    assert sent["headers"]["topic"] == f"ann{item.id}"
    payload = reader.decrypt(sent["raw"])
    assert payload["title"] == "Village announcement"  # in the language the resident chose
    assert "Kerja bakti Minggu" in payload["body"] and village.name in payload["body"]
    assert payload["url"] == f"/desa/{village.slug}/pengumuman/{item.id}"
    assert client.get(payload["url"]).status_code == 200
    for secret in (subscribed.nik, subscribed.name, subscribed.phone, subscribed.tracking_code):
        assert secret not in sent["raw"].decode("latin-1") and secret not in str(payload)
    [n] = db.session.scalars(select(Notification).where(Notification.kind == "announcement")).all()
    assert (n.route, n.request_id, n.state) == ("resident-push", subscribed.id, DELIVERED)
    assert [(d.channel, d.state) for d in n.deliveries] == [("push", DELIVERED)]


def test_an_announcement_without_broadcast_sends_nothing(app, client, auth, vapid):
    with Gateway(statuses=(201,)) as push_service:
        village, service = make_village()
        _subscribe(submit(village, service, phone=None), push_service.url + "/push/reader")
        add_official(village, "operator@hanura.test")
        db.session.commit()
        auth.login("operator@hanura.test")
        auth.post("/kelola-desa/pengumuman", {"title": "Rapat RT", "body": "Kamis malam"})
    assert push_service.requests == []
    assert db.session.scalar(select(Notification.id).where(Notification.kind == "announcement")) is None


def test_a_broadcast_reaches_each_subscribed_request_once_even_when_the_push_fails(app, client, auth, vapid):
    with Gateway(statuses=(410,)) as push_service:
        village, service = make_village()
        _subscribe(submit(village, service, phone=None), push_service.url + "/push/gone")
        add_official(village, "operator@hanura.test")
        db.session.commit()
        auth.login("operator@hanura.test")
        auth.post("/kelola-desa/pengumuman", {"title": "Posyandu", "body": "Selasa", "broadcast": "y"})
    assert len(push_service.requests) == 1
    # The browser said it is gone: its subscription is removed, nothing falls back to a phone number.
    assert db.session.scalar(select(PushSubscription.id)) is None
    [n] = db.session.scalars(select(Notification).where(Notification.kind == "announcement")).all()
    assert [d.channel for d in n.deliveries] == ["push"]
