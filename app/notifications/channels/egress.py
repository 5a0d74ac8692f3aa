"""Calls to the gateway a village's operator configured: to public addresses only.

An operator types the gateway URL, so it must never reach what sits behind the server: loopback
(Redis, the app itself), private networks, link-local (cloud metadata at 169.254.169.254), carrier
NAT, multicast, reserved and unspecified addresses, in every spelling (IPv6, IPv4-mapped IPv6,
decimal/octal/hex numbers, names that resolve to them). The URL is checked when it is saved, and
again at every send on the address the connection is then made to: requests-hardened resolves the
name once, refuses a forbidden address and connects to that very address (Host header and TLS
name kept), so a name that changes its answer between check and connect (DNS rebinding) gains
nothing. Redirects are never followed, and proxies from the environment are not used.

Only the test configuration (or ``GATEWAY_ALLOW_LOOPBACK=1`` outside production, for a gateway
stand-in on the developer's machine) lets loopback through; production never does.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import socket
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from flask import current_app, has_app_context
from requests_hardened.ip_filter import EXTRA_BLOCKED_NET_RANGES, InvalidIPAddress
from requests_hardened.ip_filter_adapter import IPFilterAdapter

from app.domain.errors import N_, DomainError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Beyond what Python calls private (loopback, RFC 1918, link-local, reserved, unspecified, ULA...)
# and requests-hardened's extra list (carrier NAT, 6to4, NAT64...): IPv4-compatible IPv6
# (::a.b.c.d, deprecated, never a public host) and site-local fec0::/10.
_ALSO_BLOCKED = (ipaddress.ip_network("::/96"), ipaddress.ip_network("fec0::/10"))


class UnsafeGatewayUrl(DomainError):
    """A gateway URL Balai will not call; the message says why, in words an operator understands."""


def allow_loopback() -> bool:
    """Whether loopback gateways are allowed: the test configuration (and a developer's opt-in) only."""
    return has_app_context() and bool(current_app.config.get("GATEWAY_ALLOW_LOOPBACK"))


def refused(ip: IPAddress, *, loopback_ok: bool = False) -> bool:
    """Whether ``ip`` is an address no gateway call may go to."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if loopback_ok and ip.is_loopback:
        return False
    return (
        not ip.is_global
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or any(ip in net for net in (*EXTRA_BLOCKED_NET_RANGES, *_ALSO_BLOCKED) if net.version == ip.version)
    )


def check_url(url: str) -> None:
    """Refuse (UnsafeGatewayUrl) a gateway URL that is not http(s) to public addresses only.

    Every address the name resolves to must be public: a name with one private answer among
    public ones could be steered to it at send time.
    """
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeGatewayUrl(N_("Alamat gateway tidak valid.")) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeGatewayUrl(N_("Alamat gateway harus diawali http:// atau https:// dan memuat nama host."))
    if parts.username or parts.password:
        raise UnsafeGatewayUrl(
            N_("Jangan menaruh nama pengguna atau sandi di alamat gateway; isi kolom token.")
        )
    try:
        answers = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnsafeGatewayUrl(
            N_("Nama host gateway %(host)s tidak ditemukan. Periksa ejaannya."), host=parts.hostname
        ) from None
    loopback_ok = allow_loopback()
    for _family, _type, _proto, _name, sockaddr in answers:
        ip = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
        if refused(ip, loopback_ok=loopback_ok):
            raise UnsafeGatewayUrl(
                N_(
                    "Alamat gateway menunjuk ke jaringan internal (%(address)s), bukan ke internet. "
                    "Balai hanya mengirim ke gateway dengan alamat publik."
                ),
                address=str(ip),
            )


class _PublicOnlyAdapter(IPFilterAdapter):
    """requests-hardened's pinned connection, with Balai's stricter list applied to the pinned address."""

    def __init__(self, is_https_proto: bool, loopback_ok: bool):
        super().__init__(is_https_proto=is_https_proto, allow_loopback=loopback_ok)
        self.loopback_ok = loopback_ok

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        pinned = ipaddress.ip_address(host_params["host"].strip("[]"))
        if refused(pinned, loopback_ok=self.loopback_ok):
            raise InvalidIPAddress(pinned)
        return host_params, pool_kwargs


def session() -> requests.Session:
    """A requests session that connects only to public addresses, checked on the connection itself."""
    loopback_ok = allow_loopback()
    http = requests.Session()
    http.trust_env = False  # no proxy or .netrc from the environment: the check is on the real peer
    http.mount("http://", _PublicOnlyAdapter(is_https_proto=False, loopback_ok=loopback_ok))
    http.mount("https://", _PublicOnlyAdapter(is_https_proto=True, loopback_ok=loopback_ok))
    return http


# A gateway's answer is a status and a little JSON; more is read no further (a hostile server could
# otherwise stream gigabytes into the worker).
MAX_ANSWER_BYTES = 64 * 1024


@dataclass(frozen=True)
class Answer:
    """What a gateway answered: its status and at most MAX_ANSWER_BYTES of its body."""

    status_code: int
    content: bytes

    def json(self):
        """The body as JSON; ValueError when it is not (or was cut short)."""
        return json.loads(self.content)


_local = threading.local()


@contextlib.contextmanager
def keep_alive():
    """Within this block, gateway calls on this thread share one checked session (kept-alive connections).

    A batch of messages to one gateway then costs one TLS handshake, not one per message; every
    connection the session opens is still checked against the forbidden addresses.
    """
    _local.session = http = session()
    try:
        yield http
    finally:
        _local.session = None
        http.close()


def post(url: str, *, timeout, **kwargs) -> Answer:
    """POST to a gateway: public addresses only, no redirects followed, a bounded answer.

    Raises InvalidIPAddress for a forbidden address and requests' own errors otherwise.
    """
    shared = getattr(_local, "session", None)
    with (
        contextlib.nullcontext(shared) if shared is not None else session() as http,
        http.post(url, timeout=timeout, allow_redirects=False, stream=True, **kwargs) as response,
    ):
        body = b""
        for chunk in response.iter_content(8192):  # requests' errors, not urllib3's, on a broken read
            body += chunk
            if len(body) >= MAX_ANSWER_BYTES:
                break
        return Answer(response.status_code, body[:MAX_ANSWER_BYTES])
