"""What logs may hold: no bearer token from a path, no query string, whatever the access log format.

tests/test_deploy.py checks the access log of the running gunicorn; these check every route and atom.
"""

from __future__ import annotations

import datetime
import logging
import secrets
from types import SimpleNamespace

from gunicorn.config import Config as GunicornConfig

from app.accesslog import AccessLogger
from app.security import redact, redact_path

SECRET_NAMES = ("token", "secret", "key")


def _numeric(converter) -> bool:
    return type(converter).__name__ in ("IntegerConverter", "FloatConverter")


def _is_secret(rule, name: str) -> bool:
    """A text part of the path named like a secret (an <int:key_id> is a row number, not a secret)."""
    return any(word in name for word in SECRET_NAMES) and not _numeric(rule._converters[name])


def _sample(rule, name: str, secret: str):
    converter = rule._converters[name]
    if _is_secret(rule, name):
        return secret
    if _numeric(converter):
        return 7
    if type(converter).__name__ == "AnyConverter":
        return next(iter(converter.items))
    return "x"


def test_every_route_with_a_secret_in_its_path_is_logged_redacted(app):
    secret = secrets.token_urlsafe(32)
    checked = []
    adapter = app.url_map.bind("balai.test")
    for rule in app.url_map.iter_rules():
        names = [name for name in rule.arguments if _is_secret(rule, name)]
        if not names:
            continue
        values = {name: _sample(rule, name, secret) for name in rule.arguments}
        path = adapter.build(rule.endpoint, values, force_external=False)
        logged = redact_path(path)
        assert secret not in logged, f"{rule.rule} would log its {names}: add it to app/security.py"
        assert "[token]" in logged
        checked.append(rule.rule)
    # The private link, its letter, the verification link, Open311 tokens: the walk found them.
    assert {"/permohonan/<token>", "/permohonan/<token>/surat.pdf", "/verifikasi/<token>"} <= set(checked)


def test_paths_without_a_secret_are_logged_as_they_are():
    for path in ("/kantor/permohonan/12", "/lacak/2345-6789-AB", "/desa/hanura/layanan", "/permohonan/"):
        assert redact_path(path) == path


def test_the_access_logger_hides_secrets_and_queries_in_every_atom_a_format_may_use():
    token = secrets.token_urlsafe(32)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/permohonan/{token}?nik=1809104506900001",
        "PATH_INFO": f"/permohonan/{token}",
        "QUERY_STRING": "nik=1809104506900001",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.1",
        "HTTP_REFERER": f"https://balai.test/verifikasi/{token}?q=1809104506900001",
    }
    response = SimpleNamespace(status="200 OK", sent=10, headers=[])
    request = SimpleNamespace(headers=[("REFERER", environ["HTTP_REFERER"])])
    logger = AccessLogger(GunicornConfig())
    atoms = logger.atoms(response, request, environ, datetime.timedelta(milliseconds=5))
    text = " ".join(str(value) for value in atoms.values())
    assert token not in text and "1809104506900001" not in text
    assert atoms["U"] == "/permohonan/[token]"
    assert atoms["r"] == "GET /permohonan/[token] HTTP/1.1"
    assert atoms["f"] == "https://balai.test/verifikasi/[token]"


def test_app_log_messages_hide_private_links_written_out(app):
    token = secrets.token_urlsafe(32)
    message = f"Exception on /permohonan/{token} [GET]; link http://balai.test/verifikasi/{token}"
    assert token not in redact(message)
    record = logging.getLogger("balai.test").makeRecord(
        "balai.test", logging.ERROR, __file__, 1, "sent %s", (f"/permohonan/{token}/surat.pdf",), None
    )
    assert token not in record.getMessage()
