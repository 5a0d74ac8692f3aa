"""The WhatsApp/SMS gateway URL an operator types can never reach the server's own network.

Attacks from issue 15 item 3: an operator points the gateway at 127.0.0.1, the cloud metadata
address, Redis on localhost, IPv6 loopback, a hex-spelled address or a name that resolves to
loopback, and reads the answer back from the failed-delivery page. Every gateway here is a real
HTTP server on 127.0.0.1, so the test configuration's loopback allowance is switched off where the
production behaviour is under test (``production_egress``).
"""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models.notifications import TECHNICAL_FAILURE, Notification, VillageChannels
from tests.conftest import csrf_from
from tests.test_notifications_support import Gateway, add_official, make_village, set_channels, submit


@pytest.fixture
def production_egress(app, monkeypatch):
    """What ProductionConfig enforces: no gateway call may reach loopback."""
    monkeypatch.setitem(app.config, "GATEWAY_ALLOW_LOOPBACK", False)


@pytest.fixture
def internal():
    """A service inside the server's network (think Redis, an admin panel): it must never be called."""
    with Gateway(body={"secret": "RAHASIA-INTERNAL-42"}) as server:
        yield server


def _internal_urls(port: int) -> list[str]:
    return [
        f"http://127.0.0.1:{port}/",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://localhost:6379/",
        f"http://localhost:{port}/",  # a name that resolves to loopback
        f"http://[::1]:{port}/",
        f"http://0x7f000001:{port}/",
        f"http://2130706433:{port}/",
        f"http://0177.0.0.1:{port}/",
        f"http://[::ffff:127.0.0.1]:{port}/",
        f"http://0.0.0.0:{port}/",
        "http://10.0.0.5/kirim",
        "http://192.168.1.1/",
        "http://100.64.0.1/",  # carrier NAT
        "http://224.0.0.1/",
        "http://[fd00:ec2::254]/",  # the IPv6 metadata address
        "http://[fe80::1]/",
    ]


def test_production_never_lets_a_gateway_call_reach_loopback(tmp_path, monkeypatch):
    from app import create_app
    from app.config import ProductionConfig, TestConfig

    monkeypatch.setenv("GATEWAY_ALLOW_LOOPBACK", "1")

    class Production(ProductionConfig):
        SECRET_KEY = "p" * 40
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'prod.sqlite'}"
        UPLOAD_DIR = str(tmp_path / "uploads")
        RATELIMIT_STORAGE_URI = "memory://"
        GATEWAY_ALLOW_LOOPBACK = True  # even a config that asks for it

    assert create_app(Production).config["GATEWAY_ALLOW_LOOPBACK"] is False
    assert TestConfig.GATEWAY_ALLOW_LOOPBACK is True  # the tests' local gateways, and nothing else


def test_an_operator_cannot_save_a_gateway_url_inside_the_servers_network(
    app, auth, client, production_egress, internal
):
    village, _service = make_village()
    add_official(village, "operator.ssrf@balai.test")
    db.session.commit()
    auth.login("operator.ssrf@balai.test")
    url = f"/notifikasi/saluran/{village.id}"
    for target in _internal_urls(internal.port):
        for gateway, field in (
            ("webhook", "whatsapp_url"),
            ("fonnte", "whatsapp_url"),
            ("webhook", "sms_url"),
        ):
            form = {
                "csrf_token": csrf_from(client.get(url).get_data(as_text=True)),
                "whatsapp_gateway": gateway if field == "whatsapp_url" else "none",
                "sms_gateway": gateway if field == "sms_url" else "none",
                "whatsapp_token": "tok",
                "whatsapp_url": "",
                "sms_url": "",
                field: target,
            }
            response = client.post(url, data=form)
            page = response.get_data(as_text=True)
            assert response.status_code == 422, (target, field)
            assert "jaringan internal" in page or "Alamat tidak valid" in page, (target, page[-2000:])
    assert db.session.scalar(select(VillageChannels).where(VillageChannels.village_id == village.id)) is None
    assert internal.requests == []


def test_the_form_says_why_in_plain_words(app, auth, client, production_egress):
    village, _service = make_village()
    add_official(village, "operator.words@balai.test")
    db.session.commit()
    auth.login("operator.words@balai.test")
    url = f"/notifikasi/saluran/{village.id}"
    form = {
        "csrf_token": csrf_from(client.get(url).get_data(as_text=True)),
        "whatsapp_gateway": "webhook",
        "sms_gateway": "none",
        "whatsapp_url": "http://169.254.169.254/latest/meta-data/",
    }
    page = client.post(url, data=form).get_data(as_text=True)
    assert "menunjuk ke jaringan internal (169.254.169.254)" in page
    form["whatsapp_url"] = "http://gateway.tidak-ada.invalid/kirim"
    assert "tidak ditemukan" in client.post(url, data=form).get_data(as_text=True)


def test_a_stored_internal_url_is_refused_again_at_send_time(app, production_egress, internal):
    # A row saved before this check existed, or a name whose DNS answer changed since: the send
    # checks the address it is about to connect to, and never connects.
    village, service = make_village()
    for target in (internal.url, f"http://localhost:{internal.port}/", f"http://0x7f000001:{internal.port}/"):
        set_channels(village, whatsapp="webhook", whatsapp_url=target)
        submit(village, service)
        db.session.commit()
    rows = db.session.scalars(select(Notification).where(Notification.route == "resident")).all()
    assert len(rows) == 3
    for n in rows:
        assert n.state == TECHNICAL_FAILURE
        assert "jaringan internal" in n.last_error and "RAHASIA" not in n.last_error
    assert internal.requests == []


def test_the_connection_goes_to_the_address_that_was_checked(app, monkeypatch):
    # DNS rebinding: a name that answers one address to the check and another to the connect.
    # The name is resolved once; the connection goes to that address with the name as Host.
    real = socket.getaddrinfo
    answers = []
    with Gateway() as gateway:

        def rebinding(host, port, *args, **kwargs):
            if host != "gateway.rebind.test":
                return real(host, port, *args, **kwargs)
            # First answer: where the gateway listens. Any later answer: an address with nothing on it.
            address = "127.0.0.1" if not answers else "127.0.0.3"
            answers.append(address)
            return real(address, port, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", rebinding)
        village, service = make_village()
        set_channels(
            village, whatsapp="webhook", whatsapp_url=f"http://gateway.rebind.test:{gateway.port}/kirim"
        )
        submit(village, service)
        db.session.commit()
    assert answers == ["127.0.0.1"]
    [sent] = gateway.requests
    assert sent["headers"]["host"] == f"gateway.rebind.test:{gateway.port}"
    [n] = db.session.scalars(select(Notification).where(Notification.route == "resident")).all()
    assert n.state == "delivered"


def test_redirects_from_a_gateway_are_not_followed(app, internal):
    import http.server
    import threading

    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.send_response(307)
            self.send_header("Location", internal.url + "/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        village, service = make_village()
        set_channels(village, whatsapp="webhook", whatsapp_url=f"http://127.0.0.1:{server.server_port}/")
        submit(village, service)
        db.session.commit()
    finally:
        server.shutdown()
        server.server_close()
    [n] = db.session.scalars(select(Notification).where(Notification.route == "resident")).all()
    assert n.state == TECHNICAL_FAILURE and "HTTP 307" in n.last_error and "tidak diikuti" in n.last_error
    assert internal.requests == []


@pytest.mark.parametrize("gateway", ["webhook", "fonnte", "cloud"])
def test_a_failed_call_shows_the_operator_a_status_and_a_reason_never_the_answers_body(
    app, auth, client, gateway
):
    body = {
        "secret": "RAHASIA-INTERNAL-42",
        "reason": "RAHASIA-INTERNAL-42 token",
        "error": {"message": "RAHASIA-INTERNAL-42"},
    }
    with Gateway(statuses=(500,), body=body) as server:
        village, service = make_village()
        set_channels(
            village,
            whatsapp=gateway,
            whatsapp_url=server.url + ("/v21.0" if gateway == "cloud" else "/kirim"),
            token="tok",
            sender="1234",
        )
        add_official(village, "operator.body@balai.test")
        submit(village, service)
        db.session.commit()
    [n] = db.session.scalars(select(Notification).where(Notification.route == "resident")).all()
    assert "RAHASIA" not in n.last_error and "HTTP 500" in n.last_error
    assert all("RAHASIA" not in d.provider_error for d in n.deliveries)
    n.next_attempt_at = None  # out of attempts: listed on the failures page
    db.session.commit()
    auth.login("operator.body@balai.test")
    page = client.get("/notifikasi/gagal").get_data(as_text=True)
    assert "HTTP 500" in page and "RAHASIA" not in page


def test_a_gateway_answer_is_read_only_so_far(app):
    # A hostile "gateway" streaming an endless answer must not fill the worker's memory.
    import http.server
    import threading

    from app.notifications.channels import egress

    class Endless(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            try:
                for _ in range(2000):  # 16 MB if anyone read it all
                    self.wfile.write(b" " * 8192)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Endless)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        answer = egress.post(f"http://127.0.0.1:{server.server_port}/", timeout=(2, 5), json={})
    finally:
        server.shutdown()
        server.server_close()
    assert answer.status_code == 200 and len(answer.content) == egress.MAX_ANSWER_BYTES
