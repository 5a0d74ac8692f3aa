"""Helpers for the OpenDK receiver tests: the captured requests, a raw socket client, gunicorn.

The captures in ../shared/opensid-sync/requests/ are what a real OpenSID v2410 sent to
``{server}/api/v1/...``; a village points OpenSID at ``https://<balai>/opendk``, so replaying one
means prefixing ``/opendk`` to the request target, and nothing else: every other byte is sent as
captured.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SYNC = Path(os.environ.get("OPENSID_SYNC_DIR", ROOT.parent.parent / "shared" / "opensid-sync"))
if not SYNC.is_dir():
    SYNC = Path("/work/shared/opensid-sync")
REQUESTS = SYNC / "requests"
HANURA = "18.09.10.2004"
TOKEN = "test-token"  # what the captures carry in Authorization: Bearer
OPERATOR_EMAIL, OPERATOR_PASSWORD = "operator@hanura.desa.id", "rahasia-opendk"  # N=002's login


def capture(n: int) -> bytes:
    """The raw bytes of capture N (e.g. 138)."""
    (path,) = REQUESTS.glob(f"{n:03d}-*.raw")
    return path.read_bytes()


def captured_numbers() -> list[int]:
    return sorted(int(p.name[:3]) for p in REQUESTS.glob("*.raw"))


def head_and_body(raw: bytes) -> tuple[bytes, bytes]:
    head, _sep, body = raw.partition(b"\r\n\r\n")
    return head, body


def for_balai(raw: bytes, prefix: bytes = b"/opendk") -> bytes:
    """The same request, sent to Balai's receiver: only the request target gains ``/opendk``."""
    line, sep, rest = raw.partition(b"\r\n")
    method, target, version = line.split(b" ")
    return method + b" " + prefix + target + b" " + version + sep + rest


def body_of(n: int) -> bytes:
    return head_and_body(capture(n))[1]


def multipart_part(raw_body: bytes, boundary: bytes, name: bytes) -> bytes:
    """The content of one part of a captured multipart body."""
    for part in raw_body.split(b"--" + boundary):
        headers, _sep, content = part.partition(b"\r\n\r\n")
        if f'name="{name.decode()}"'.encode() in headers:
            return content[: -len(b"\r\n")] if content.endswith(b"\r\n") else content
    raise KeyError(name)


def captured_zip(n: int) -> bytes:
    raw = capture(n)
    head, body = head_and_body(raw)
    boundary = head.split(b"boundary=")[1].split(b"\r\n")[0]
    return multipart_part(body, boundary, b"file")


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    interim: list[int]

    def json(self):
        return json.loads(self.body.decode())


def _read_response(sock: socket.socket, buffer: bytes = b"") -> tuple[Answer, bytes]:
    interim: list[int] = []
    while True:
        while b"\r\n\r\n" not in buffer:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed before the response head")
            buffer += chunk
        head, _sep, buffer = buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            key, _s, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        if 100 <= status < 200:
            interim.append(status)
            continue
        length = int(headers.get("content-length", "0"))
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                while b"\r\n" not in buffer:
                    buffer += sock.recv(65536)
                size_line, _s, buffer = buffer.partition(b"\r\n")
                size = int(size_line.split(b";")[0], 16)
                while len(buffer) < size + 2:
                    buffer += sock.recv(65536)
                body += buffer[:size]
                buffer = buffer[size + 2 :]
                if size == 0:
                    break
        else:
            while len(buffer) < length:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                buffer += chunk
            body, buffer = buffer[:length], buffer[length:]
        return Answer(status, headers, body, interim), buffer


def send_raw(port: int, raw: bytes, *, wait_for_continue: bool = False, timeout: float = 60) -> Answer:
    """Write ``raw`` to a fresh connection and read the answer. With ``wait_for_continue`` the head
    goes first and the body only after the server's ``100 Continue`` (as curl and Guzzle do)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        if wait_for_continue:
            head, body = head_and_body(raw)
            sock.sendall(head + b"\r\n\r\n")
            interim, rest = _read_interim(sock)
            sock.sendall(body)
            answer, _ = _read_response(sock, rest)
            answer.interim = interim + answer.interim
            return answer
        sock.sendall(raw)
        answer, _ = _read_response(sock)
        return answer


def _read_interim(sock: socket.socket) -> tuple[list[int], bytes]:
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed while waiting for 100 Continue")
        buffer += chunk
    head, _sep, rest = buffer.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    assert status == 100, head
    return [status], rest


# --- building requests like OpenSID's two HTTP stacks ---------------------------------------------


def curl_multipart(path: str, token: str, filename: str, data: bytes, *, expect: bool = False) -> bytes:
    """A multipart POST as PHP's curl builds it (penduduk/storedata)."""
    boundary = "------------------------" + secrets.token_hex(8)
    body = (
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    head = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1:5301",
        "Accept: */*",
        "Accept-Encoding: deflate, gzip, br, zstd",
        f"Authorization: Bearer {token}",
        f"Content-Length: {len(body)}",
        f"Content-Type: multipart/form-data; boundary={boundary}",
    ]
    if expect:
        head.append("Expect: 100-continue")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def guzzle_multipart(
    path: str, token: str, filename: str, data: bytes, desa_id: str, *, expect: bool = False
) -> bytes:
    """A multipart POST as Guzzle 7 builds it: every part with its own Content-Length."""
    boundary = secrets.token_hex(20)
    body = (
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            f"Content-Length: {len(data)}\r\n"
            "Content-Type: application/zip\r\n\r\n"
        ).encode()
        + data
        + (
            f"\r\n--{boundary}\r\n"
            'Content-Disposition: form-data; name="desa_id"\r\n'
            f"Content-Length: {len(desa_id)}\r\n\r\n"
            f"{desa_id}\r\n--{boundary}--\r\n"
        ).encode()
    )
    head = ["POST " + path + " HTTP/1.1", "Host: 127.0.0.1:5301"]
    if expect:
        head.append("Expect: 100-Continue")
    head += [
        "User-Agent: GuzzleHttp/7",
        f"Content-Type: multipart/form-data; boundary={boundary}",
        "X-Requested-With: XMLHttpRequest",
        f"Authorization: Bearer {token}",
        f"Content-Length: {len(body)}",
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def guzzle_form(path: str, token: str, body: str) -> bytes:
    data = body.encode()
    head = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1:5301",
        "User-Agent: GuzzleHttp/7",
        "Content-Type: application/x-www-form-urlencoded",
        "X-Requested-With: XMLHttpRequest",
        f"Authorization: Bearer {token}",
        f"Content-Length: {len(data)}",
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + data


def curl_json(path: str, token: str, payload) -> bytes:
    data = json.dumps(payload, separators=(",", ":")).encode()
    head = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1:5301",
        "Accept-Encoding: deflate, gzip, br, zstd",
        "Accept: application/json",
        "Content-Type: application/json",
        f"Authorization: Bearer {token}",
        f"Content-Length: {len(data)}",
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + data


# --- the resident xlsx of N=138, and variants of it -----------------------------------------------


def captured_xlsx() -> tuple[str, bytes]:
    archive = zipfile.ZipFile(io.BytesIO(captured_zip(138)))
    (name,) = [n for n in archive.namelist() if n.endswith(".xlsx")]
    return name, archive.read(name)


def xlsx_rows() -> tuple[list[str], list[list]]:
    from openpyxl import load_workbook

    _name, data = captured_xlsx()
    sheet = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    return [str(h) for h in rows[0]], rows[1:]


def make_xlsx(header: list[str], rows: list[list]) -> bytes:
    """An xlsx like OpenSpout's: one sheet, every value a string."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Sheet1")
    sheet.append(header)
    for row in rows:
        sheet.append([None if v is None else str(v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def make_zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


# --- gunicorn, as the Procfile starts it ---------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Web:
    """The Procfile's web process (gunicorn with gunicorn.conf.py) against the test database."""

    def __init__(self, database_url: str, upload_dir: str, folder: Path, **env):
        self.port = free_port()
        self.folder = folder
        self.env = {
            **os.environ,
            "PORT": str(self.port),
            "WEB_CONCURRENCY": "2",
            "WEB_THREADS": "4",
            "BALAI_ENV": "development",
            "BALAI_INSTANCE": str(folder / "instance"),
            "DATABASE_URL": database_url,
            "UPLOAD_DIR": upload_dir,
            "SECRET_KEY": "opendk-test-secret-key-long-enough-for-tests",
            "RATELIMIT_STORAGE_URI": "memory://",
            "OPENDK_WAIT_SECONDS": "20",
            "POPULATION_PUBLISH_EVERY": "0",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            **{k: str(v) for k, v in env.items() if v is not None},
        }
        if "REDIS_URL" not in env:
            self.env.pop("REDIS_URL", None)
        self.process: subprocess.Popen | None = None

    def start(self) -> Web:
        from tests.gunicorn_support import procfile_command

        self.log = open(self.folder / f"web-{self.port}.log", "wb")  # noqa: SIM115  (closed in stop)
        self.process = subprocess.Popen(
            procfile_command("web"),
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.text()[-3000:]
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    if sock.recv(64).startswith(b"HTTP/1.1 200"):
                        return self
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError("gunicorn did not answer /healthz within 60 s:\n" + self.text()[-3000:])

    def text(self) -> str:
        path = self.folder / f"web-{self.port}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


def wait_until(check, timeout: float = 60, pause: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(pause)
    raise AssertionError("timed out waiting")


def load_captured_register(village, source: str = "opendk") -> int:
    """Store the 21 residents of capture N=138 as the village's register (as the sync job would)."""
    from datetime import date

    from app.domain import opensid
    from app.population import register

    _name, data = captured_xlsx()
    header, lines = opensid.xlsx_rows(data)
    records = []
    for line, cells in lines:
        record, _notes = opensid.resident_from_opensid(dict(zip(header, cells, strict=False)), line)
        records.append((line, record))
    kept, _dups = register.dedupe(records)
    register.replace(village, kept, source=source, as_of=date(2026, 12, 3))
    return len(kept)
