"""Real stand-in services for the notification tests: an SMTP server, an HTTP gateway, a push service.

No tests here; the notification test modules import these helpers.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from sqlalchemy import select

from app.extensions import db
from tests.conftest import DEMO_PASSWORD


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gateway:
    """A local HTTP server standing in for a WhatsApp/SMS gateway or a browser push service.

    ``statuses`` are answered in order (the last one repeats). Like a gateway that honours
    idempotency keys, a repeated ``Idempotency-Key`` is accepted but not delivered twice.
    """

    def __init__(self, statuses=(200,), delay_first: float = 0.0, body: dict | None = None):
        self.statuses = list(statuses)
        self.delay_first = delay_first
        self.body = body
        self.requests: list[dict] = []
        self.delivered: dict[str, dict] = {}
        self.lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with gateway.lock:
                    n = len(gateway.requests)
                    entry = {
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "raw": raw,
                    }
                    gateway.requests.append(entry)
                    status = gateway.statuses[min(n, len(gateway.statuses) - 1)]
                if n == 0 and gateway.delay_first:
                    time.sleep(gateway.delay_first)
                if 200 <= status < 300:
                    key = self.headers.get("Idempotency-Key") or uuid.uuid4().hex
                    with gateway.lock:
                        gateway.delivered.setdefault(key, entry)
                payload = json.dumps(gateway.body or {"id": f"gw-{n}"}).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def json_bodies(self) -> list[dict]:
        return [json.loads(r["raw"]) for r in self.requests]

    def form_bodies(self) -> list[dict]:
        return [{k: v[0] for k, v in parse_qs(r["raw"].decode()).items()} for r in self.requests]


class Smtp:
    """aiosmtpd on a free local port; ``messages`` holds (recipients, raw text) tuples."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages: list[tuple[list[str], str]] = []
        smtp = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                smtp.messages.append((list(envelope.rcpt_tos), envelope.content.decode("utf8", "replace")))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()


class Browser:
    """A push subscriber: its own P-256 key pair and auth secret, to decrypt what arrives."""

    def __init__(self, endpoint: str):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = uuid.uuid4().bytes
        public = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.subscription = {
            "endpoint": endpoint,
            "keys": {"p256dh": b64(public), "auth": b64(self.auth)},
        }

    def decrypt(self, body: bytes) -> dict:
        import http_ece

        return json.loads(
            http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth, version="aes128gcm")
        )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def wait_until(check, timeout: float = 60.0, interval: float = 0.1):
    """Poll ``check`` (with a fresh database snapshot each time) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        db.session.rollback()
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting after {timeout} s")
        time.sleep(interval)


def make_village(slug: str = "hanura", code: str = "18.09.10.2004"):
    """An active village with one letter service of our own."""
    from app.models import Service
    from app.tenancy import activate_village

    village = activate_village(code, slug=slug)
    service = Service(village_id=village.id, code=f"sk-{slug}", name="Surat Keterangan Domisili", sla_days=3)
    db.session.add(service)
    db.session.flush()
    return village, service


def set_channels(
    village, whatsapp="none", sms="none", whatsapp_url="", sms_url="", token="", sender="", templates=None
):
    from app.models.notifications import VillageChannels

    settings = db.session.scalar(select(VillageChannels).where(VillageChannels.village_id == village.id))
    if settings is None:
        settings = VillageChannels(village_id=village.id)
        db.session.add(settings)
    settings.whatsapp_gateway, settings.sms_gateway = whatsapp, sms
    settings.whatsapp_url, settings.sms_url = whatsapp_url, sms_url
    settings.whatsapp_token = settings.sms_token = token
    settings.whatsapp_sender = sender
    settings.whatsapp_templates = templates or {}
    db.session.flush()
    return settings


def add_official(village, email: str, role=None, password: str = DEMO_PASSWORD):
    from app.models import Role, User

    user = User(
        email=email, name="Petugas " + email.split("@")[0], role=role or Role.OPERATOR, village_id=village.id
    )
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


def submit(village, service, phone="+6281234567890", email=None, key=None, locale=None):
    from app.workflow import submit_request

    return submit_request(
        village,
        service,
        nik="1809100101900001",
        name="Siti Aminah",
        phone=phone,
        email=email,
        idempotency_key=key or uuid.uuid4().hex,
        locale=locale,
    ).request
