"""WhatsApp and SMS gateways: Fonnte, the WhatsApp Cloud API, a generic JSON webhook, a simulator."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import uuid

import requests

from app.domain.errors import DomainError
from app.domain.phone import mask_phone, normalize_phone
from app.models.notifications import CLOUD_API, FONNTE, SIMULATOR, WEBHOOK
from app.notifications.channels import (
    Outgoing,
    Result,
    classify_http,
    delivered,
    permanent,
    technical,
    temporary,
)

log = logging.getLogger(__name__)
TIMEOUT = (5, 20)  # connect, read
FONNTE_URL = "https://api.fonnte.com/send"
CLOUD_API_URL = "https://graph.facebook.com/v21.0"


def _digits(e164: str) -> str:
    return normalize_phone(e164)[1:]


_local = threading.local()


@contextlib.contextmanager
def keep_alive():
    """Within this block, gateway calls on this thread share one HTTP session (kept-alive connections)."""
    _local.session = session = requests.Session()
    if not any(k.lower().endswith("_proxy") for k in os.environ):
        # Nothing to find there: without this, requests reads the whole environment (proxies,
        # netrc) again on every call, a third of a message's cost. A CA bundle named there still counts.
        session.trust_env = False
        session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    try:
        yield session
    finally:
        _local.session = None
        session.close()


def _post(url: str, **kwargs) -> requests.Response | Result:
    try:
        return (getattr(_local, "session", None) or requests).post(url, timeout=TIMEOUT, **kwargs)
    except requests.Timeout:
        return technical("gateway timeout")
    except requests.RequestException as exc:
        return technical(f"gateway unreachable: {type(exc).__name__}")


class Fonnte:
    """Fonnte (fonnte.com): form fields ``target`` and ``message``, the token in ``Authorization``."""

    provider = FONNTE

    def __init__(self, token: str, url: str = ""):
        self.token = token
        self.url = url or FONNTE_URL

    def send(self, out: Outgoing) -> Result:
        response = _post(
            self.url,
            headers={"Authorization": self.token},
            data={"target": _digits(out.to), "message": out.text, "countryCode": "62"},
        )
        if isinstance(response, Result):
            return response
        if response.status_code != 200:
            return classify_http(response.status_code, response.text[:120])
        try:
            body = response.json()
        except ValueError:
            return technical("gateway answered something other than JSON")
        if body.get("status") is True:
            ids = body.get("id") or []
            return delivered(str(ids[0]) if ids else None)
        reason = str(body.get("reason") or body.get("detail") or "unknown")
        lowered = reason.lower()
        if "token" in lowered or "device" in lowered or "quota" in lowered:
            return technical(reason)
        if "target" in lowered or "number" in lowered or "register" in lowered:
            return permanent(reason)
        return temporary(reason)


class CloudApi:
    """WhatsApp Cloud API (Meta): approved template messages, a bearer token, the sender's number id."""

    provider = CLOUD_API
    PERMANENT_CODES = {131026, 131021, 131051, 131008, 131009, 100}
    TEMPORARY_CODES = {130429, 131048, 131056, 80007, 131000, 1, 2}

    def __init__(self, token: str, sender: str, templates: dict | None = None, url: str = ""):
        self.token = token
        self.sender = sender
        self.templates = templates or {}
        self.url = (url or CLOUD_API_URL).rstrip("/")

    def send(self, out: Outgoing) -> Result:
        template = self.templates.get(out.kind) or self.templates.get("default") or "balai_" + out.kind
        payload = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": _digits(out.to),
            "type": "template",
            "template": {
                "name": template,
                "language": {"code": out.locale if out.locale in ("id", "en") else "id"},
                "components": [
                    {
                        "type": "body",
                        "parameters": [{"type": "text", "text": p} for p in out.template_params],
                    }
                ],
            },
        }
        response = _post(
            f"{self.url}/{self.sender}/messages",
            headers={"Authorization": f"Bearer {self.token}"},
            json=payload,
        )
        if isinstance(response, Result):
            return response
        try:
            body = response.json()
        except ValueError:
            body = {}
        if 200 <= response.status_code < 300:
            messages = body.get("messages") or [{}]
            return delivered(messages[0].get("id"))
        error = body.get("error") or {}
        code = error.get("code")
        text = f"{code}: {error.get('message', '')}"[:300]
        if code in self.PERMANENT_CODES:
            return permanent(text)
        if code in self.TEMPORARY_CODES:
            return temporary(text)
        if code in (0, 3, 10, 190, 200) or (isinstance(code, int) and 132000 <= code < 133000):
            return technical(text)  # token, permission or template set-up: ours to fix
        return classify_http(response.status_code, text)


class Webhook:
    """A generic JSON webhook: ``{channel, to, message, reference}``, ``Idempotency-Key`` header."""

    provider = WEBHOOK

    def __init__(self, url: str, token: str = "", channel: str = "whatsapp"):
        self.url = url
        self.token = token
        self.channel = channel

    def send(self, out: Outgoing) -> Result:
        headers = {"Idempotency-Key": out.reference}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        response = _post(
            self.url,
            headers=headers,
            json={
                "channel": self.channel,
                "to": out.to,
                "message": out.text,
                "reference": out.reference,
                "kind": out.kind,
                "locale": out.locale,
            },
        )
        if isinstance(response, Result):
            return response
        result = classify_http(response.status_code, response.text[:120])
        if result.delivered:
            try:
                body = response.json()
            except ValueError:
                body = {}
            result.provider_message_id = str(body.get("id") or body.get("message_id") or "") or None
        return result


class Simulator:
    """No real gateway: for demos and tests. Magic numbers give each outcome.

    Numbers starting +62 8999 end in: 1 permanent failure, 2 temporary failure, 3 technical failure,
    4 temporary failure on the first attempt then delivered, 5 slow (2 s) then delivered.
    Every other number is delivered at once.
    """

    provider = SIMULATOR

    def __init__(self, channel: str = "whatsapp"):
        self.channel = channel

    def send(self, out: Outgoing) -> Result:
        try:
            number = normalize_phone(out.to)
        except DomainError:
            return permanent("nomor tidak valid")
        if number.startswith("+628999"):
            last = number[-1]
            if last == "1":
                return permanent("simulator: nomor tidak terdaftar")
            if last == "2":
                return temporary("simulator: ponsel tidak aktif")
            if last == "3":
                return technical("simulator: gateway bermasalah")
            if last == "4" and out.attempt <= 1:
                return temporary("simulator: ponsel tidak aktif (coba lagi)")
            if last == "5":
                time.sleep(2)
        log.info("simulator %s to %s: %s", self.channel, mask_phone(number), out.kind)
        return delivered("sim-" + uuid.uuid4().hex[:12])
