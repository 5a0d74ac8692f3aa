"""Web Push with VAPID (pywebpush): encrypted payloads, Topic replacement, gone subscriptions removed."""

from __future__ import annotations

import json
from dataclasses import dataclass

import requests
from pywebpush import WebPushException, webpush

from app.models.notifications import DELIVERED
from app.notifications.channels import Outgoing, Result, classify_http, delivered, technical


@dataclass
class Subscription:
    id: int
    endpoint: str
    p256dh: str
    auth: str


class WebPush:
    provider = "webpush"

    def __init__(self, private_key: str, subject: str):
        self.private_key = private_key
        self.subject = subject

    def payload(self, out: Outgoing) -> str:
        return json.dumps(
            {"title": out.title, "body": out.text, "url": out.path, "tag": out.topic or ""},
            ensure_ascii=False,
        )

    def send_all(self, out: Outgoing, subscriptions: list[Subscription]) -> tuple[Result, list[int]]:
        """Send to every browser of the recipient; delivered when one accepts. Returns the gone ids."""
        results: list[Result] = []
        gone: list[int] = []
        headers = {"Urgency": "normal"}
        if out.topic:
            headers["Topic"] = out.topic
        for sub in subscriptions:
            try:
                response = webpush(
                    {"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}},
                    data=self.payload(out),
                    vapid_private_key=self.private_key,
                    vapid_claims={"sub": self.subject},
                    ttl=2 * 24 * 3600,
                    headers=headers,
                    timeout=15,
                )
                results.append(delivered(response.headers.get("Location")))
            except WebPushException as exc:
                status = exc.response.status_code if exc.response is not None else 0
                if status in (404, 410):
                    gone.append(sub.id)
                    results.append(Result("permanent-failure", None, f"HTTP {status}: langganan berakhir"))
                elif status:
                    results.append(classify_http(status))
                else:
                    results.append(technical(f"push gagal: {str(exc)[:80]}"))
            except requests.RequestException as exc:
                results.append(technical(f"push service unreachable: {type(exc).__name__}"))
        for result in results:
            if result.state == DELIVERED:
                return result, gone
        # Nothing accepted: report the most hopeful failure (a temporary one retries).
        order = {"temporary-failure": 0, "technical-failure": 1, "permanent-failure": 2}
        results.sort(key=lambda r: order.get(r.state, 3))
        return (results[0] if results else technical("tidak ada langganan")), gone


def generate_keys() -> tuple[str, str]:
    """A new VAPID key pair: (private key, raw 32 bytes; public key, uncompressed point), base64url."""
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_numbers().private_value.to_bytes(32, "big")
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return b64(private), b64(public)
