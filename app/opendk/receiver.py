"""The endpoints OpenSID v2410 calls, answering as it expects.

How OpenSID reads answers decides their shape (see the README, "How an OpenSID village connects"):

- Guzzle calls (identitas-desa, pembangunan, program-bantuan, pesan, getpesan, surat) show ``message``
  (as HTML) from a 2xx, and ``message`` plus each ``errors`` entry from a 4xx. A 5xx breaks the
  operator's page, so unexpected failures answer 400.
- ``penduduk`` (curl): a 422 whose ``errors`` is an object crashes OpenSID; every other 4xx is shown
  like a 2xx, in the colour of ``status``. So errors there are 400/401/403 with ``status: danger``.
- ``laporan-*`` (curl): nothing is shown, but anything but a 422 marks the report as sent; so every
  refusal there is a 422.
- ``auth/login`` runs in the operator's browser (the "Buat Key" button), cross-origin: CORS, and
  exactly 200 with ``access_token`` on success.

Messages are HTML-escaped: OpenSID puts them into its page as HTML.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from functools import wraps

from flask import Response, current_app, g, jsonify, request
from flask_babel import gettext as _
from markupsafe import escape
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from app.domain import opensid
from app.domain.errors import N_, DomainError
from app.domain.opensid import Note, PayloadError
from app.extensions import db, limiter
from app.i18n import known
from app.limits import address_key
from app.models import utcnow
from app.models.population import DONE, FAILED, FINISHED, UNCHANGED, SyncPush
from app.opendk import bp
from app.population import documents, messages, pushes, tokens
from app.population.register import source_of

log = logging.getLogger(__name__)

GUZZLE, PENDUDUK, LAPORAN = "guzzle", "penduduk", "laporan"
EMPTY_REPORTS = opensid.known(
    N_(
        "Kiriman laporan kosong: OpenSID v2410 mengirim daftar kosong bila laporan dicentang lalu tombol "
        "Kirim Ke OpenDK ditekan (kotak centangnya tidak membawa nomor laporan). Tidak ada yang disimpan."
    )
)
MISSING_FILE = opensid.known(N_("Kiriman tidak membawa berkas zip (bagian 'file')."))


# --- answers -----------------------------------------------------------------------------------


def _json(status_code: int, body: dict) -> Response:
    response = jsonify(body)
    response.status_code = status_code
    response.headers["Cache-Control"] = "no-store"
    return response


def ok(message: str, **extra) -> Response:
    return _json(200, {"status": "success", "message": str(escape(message)), **extra})


def fail(style: str, code: int, message: str, field: str = "") -> Response:
    """A refusal shaped for the OpenSID code that reads it (see the module docstring)."""
    text = str(escape(message))
    body: dict = {"status": "danger", "message": text}
    if style == LAPORAN:
        code = 422
    if style == PENDUDUK:
        code = 400 if code == 422 else code
        body["errors"] = text
    elif code == 422 or style == LAPORAN or field:
        body["errors"] = {field or "request": [text]}
    return _json(code, body)


def _note_text(note: Note | dict) -> str:
    message, params = (
        (note.message, note.params) if isinstance(note, Note) else (note.get("m"), note.get("p"))
    )
    return known(opensid.KNOWN_MESSAGES, message, **(params or {}))


# --- who is calling ----------------------------------------------------------------------------


def _bearer() -> str | None:
    scheme, _sep, value = (request.headers.get("Authorization") or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def token_key() -> str:
    """Limits count per token (hashed: the limiter's storage never sees it), else per address."""
    raw = _bearer()
    return "opendk:" + hashlib.sha256(raw.encode()).hexdigest()[:24] if raw else address_key()


def with_token(style: str) -> Callable:
    """The view runs only for an active token; ``g.village`` is the token's village."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            token = tokens.find(_bearer())
            if token is None:
                return fail(
                    style,
                    401,
                    _(
                        "Token OpenDK tidak dikenal atau sudah dicabut. Buat token baru di Balai "
                        "(menu Sinkronisasi OpenDK) atau dengan tombol Buat Key, lalu Simpan."
                    ),
                )
            tokens.touch(token)
            g.opendk_style, g.token, g.village = style, token, token.village
            return view(*args, **kwargs)

        return wrapped

    return decorator


def _limited(upload: bool = False) -> Callable:
    """Per-address and per-token limits (uploads have a tighter one)."""

    def decorator(view: Callable) -> Callable:
        limited = limiter.limit(lambda: current_app.config["OPENDK_TOKEN_LIMIT"], key_func=token_key)(view)
        if upload:
            limited = limiter.limit(
                lambda: current_app.config["OPENDK_UPLOAD_LIMIT"], key_func=token_key, scope="opendk-upload"
            )(limited)
        return limiter.limit(lambda: current_app.config["OPENDK_ADDRESS_LIMIT"], key_func=address_key)(
            limited
        )

    return decorator


def _wrong_village(value: str | None, field: str) -> Response | None:
    """Refuse data for another village: a token writes only its own village (kode 18.09.10.2004)."""
    want = g.village.region_code
    got = (value or "").strip()
    if not got:
        return fail(g.opendk_style, 422, _("Kode desa (%(field)s) tidak dikirim.", field=field), field)
    if got != want:
        return fail(
            g.opendk_style,
            403,
            _("Token ini milik desa %(want)s; data untuk desa %(got)s ditolak.", want=want, got=got[:20]),
            field,
        )
    return None


# --- errors inside the receiver ------------------------------------------------------------------


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    style = getattr(g, "opendk_style", GUZZLE)
    if exc.code == 413:
        message = _(
            "Kiriman terlalu besar (batas %(mb)s MB).",
            mb=current_app.config["OPENDK_MAX_UPLOAD_BYTES"] // 2**20,
        )
    elif exc.code == 429:
        message = _("Terlalu sering mengirim ke Balai. Tunggu sebentar lalu kirim lagi.")
    else:
        message = _("Permintaan tidak dapat dibaca oleh Balai.")
    response = fail(style, exc.code or 400, message)
    return _cors(response) if request.endpoint == "opendk.login" else response


@bp.errorhandler(SQLAlchemyError)
@bp.errorhandler(Exception)
def _unexpected(exc: Exception):
    # A 5xx stops OpenSID's sync page for good ("Proses Sinkronisasi 0%"); say what happened instead.
    db.session.rollback()
    log.exception("OpenDK receiver failed on %s", request.path)
    return fail(
        getattr(g, "opendk_style", GUZZLE),
        400,
        _("Terjadi gangguan di Balai; kiriman ini belum tersimpan. Coba kirim lagi beberapa saat lagi."),
    )


# --- auth/login: "Buat Key" in the operator's browser --------------------------------------------


def _cors(response: Response) -> Response:
    # Any OpenSID may ask (villages have their own domains); no cookie is ever sent or read here.
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type, Accept, X-Requested-With"
    response.headers["Access-Control-Max-Age"] = "600"
    response.vary.add("Origin")
    return response


def _login_email_key() -> str:
    body = request.get_json(silent=True) or {}
    email = str(body.get("email") or request.form.get("email") or "").strip().lower()
    return "opendk-login:" + hashlib.sha256(email.encode()).hexdigest()[:24]


@bp.route("/auth/login", methods=["POST", "OPTIONS"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"], key_func=address_key)
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"], key_func=_login_email_key)
def login():
    if request.method == "OPTIONS":
        return _cors(Response(status=204))
    g.opendk_style = GUZZLE
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        body = request.form.to_dict()
    try:
        user = tokens.login(str(body.get("email") or ""), str(body.get("password") or ""))
    except DomainError as err:
        return _cors(fail(GUZZLE, 401, _(err.message, **err.params)))
    raw = tokens.issue(user.village, f"Buat Key ({user.name})"[:80], created_by=user, via="login")
    db.session.commit()
    log.info("OpenDK token made by login of user %s for village %s", user.id, user.village_id)
    return _cors(_json(200, {"access_token": raw, "token_type": "bearer", "expires_in": None}))


# --- identitas-desa ------------------------------------------------------------------------------


@bp.post("/identitas-desa")
@_limited()
@with_token(GUZZLE)
def identitas():
    refused = _wrong_village(request.form.get("kode_desa"), "kode_desa")
    if refused:
        return refused
    documents.store_identity(
        g.village,
        term=request.form.get("sebutan_desa", ""),
        website=request.form.get("website", ""),
        path=request.form.get("path"),
    )
    pushes.logged(g.village, pushes.IDENTITAS, DONE, rows=1, size=request.content_length or 0, token=g.token)
    db.session.commit()
    return ok(_("Identitas %(name)s tersimpan di Balai.", name=g.village.display_name))


# --- penduduk --------------------------------------------------------------------------------


def _upload(module: str, style: str):
    """(file name, file object) of the multipart part ``file``, or a refusal already logged."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        pushes.logged(g.village, module, FAILED, notes=[Note(MISSING_FILE)], token=g.token)
        db.session.commit()
        return None, fail(style, 422, _note_text(Note(MISSING_FILE)), "file")
    return opensid.basename(upload.filename), upload


def _refused_file(module: str, style: str, name: str, size: int, err: PayloadError) -> Response:
    note = Note(err.message, err.params)
    pushes.logged(g.village, module, FAILED, notes=[note], name=name, size=size, token=g.token)
    db.session.commit()
    return fail(style, 422, _note_text(note), "file")


@bp.post("/penduduk/storedata")
@_limited(upload=True)
@with_token(PENDUDUK)
def storedata():
    name, upload = _upload(pushes.PENDUDUK, PENDUDUK)
    if name is None:
        return upload
    size = request.content_length or 0
    try:
        xlsx_name, xlsx = opensid.xlsx_from_zip(upload.stream)
    except PayloadError as err:
        return _refused_file(pushes.PENDUDUK, PENDUDUK, name, size, err)
    pushes.receive(g.village, pushes.PENDUDUK, xlsx, name=xlsx_name, token=g.token)
    db.session.commit()
    # OpenSID ignores this answer; the next call (/penduduk) says how it went.
    return ok(_("Data penduduk diterima Balai dan sedang diproses (foto penduduk tidak disimpan)."))


@bp.post("/penduduk")
@_limited()
@with_token(PENDUDUK)
def penduduk():
    body = request.get_json(silent=True)
    items = body.get("hapus_penduduk", []) if isinstance(body, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        return fail(PENDUDUK, 400, _("Isi kiriman bukan daftar hapus_penduduk."))
    for item in items:
        refused = _wrong_village(str(item.get("desa_id") or ""), "desa_id")
        if refused:
            return refused
    started = utcnow()
    if items:
        payload = json.dumps(
            [{"desa_id": i.get("desa_id"), "id_pend_desa": i.get("id_pend_desa")} for i in items]
        )
        pushes.receive(
            g.village, pushes.PENDUDUK_HAPUS, payload.encode(), name="hapus_penduduk.json", token=g.token
        )
        db.session.commit()
    return _storedata_outcome(len(items), started)


def _storedata_outcome(deleted: int, started) -> Response:
    """Tell the operator how the storedata OpenSID sent just before went (waiting a little for it)."""
    village_id = g.village.id
    deadline = time.monotonic() + current_app.config["OPENDK_WAIT_SECONDS"]
    since = started - timedelta(minutes=15)
    while True:
        db.session.rollback()  # see what the job committed meanwhile
        push = pushes.latest(village_id, pushes.PENDUDUK, since)
        if push is None or push.state in FINISHED or time.monotonic() >= deadline:
            break
        time.sleep(0.25)
    extra = " " + _("%(n)s penghapusan penduduk diterima.", n=deleted) if deleted else ""
    if push is None:
        if deleted:
            return ok(extra.strip())
        return _json(
            200,
            {
                "status": "danger",
                "message": str(
                    escape(_("Balai belum menerima data penduduk dari desa ini. Tekan Kirim Data lagi."))
                ),
            },
        )
    return _push_answer(push, extra)


def _push_answer(push: SyncPush, extra: str) -> Response:
    if push.state == FAILED:
        reason = " ".join(filter(None, (_note_text(n) for n in push.errors[:3])))
        return _json(
            200,
            {
                "status": "danger",
                "message": str(escape(_("Data penduduk ditolak Balai: %(reason)s", reason=reason) + extra)),
            },
        )
    if push.state == UNCHANGED:
        return ok(_("Data penduduk sama dengan kiriman sebelumnya; tidak ada yang berubah di Balai.") + extra)
    if push.state == DONE:
        source = source_of(push.village_id)
        message = _(
            "Data penduduk tersimpan di Balai: %(residents)s penduduk hidup dalam %(households)s keluarga.",
            residents=source.residents if source else push.rows,
            households=source.households if source else 0,
        )
        if push.errors:
            message += " " + _(
                "Ada %(n)s catatan; lihat log Sinkronisasi OpenDK di Balai.", n=len(push.errors)
            )
        return ok(message + extra)
    return ok(
        _(
            "Data penduduk sudah diterima dan sedang diproses di Balai; hasilnya tampil di log Sinkronisasi OpenDK di Balai."
        )
        + extra
    )


# --- laporan penduduk / APBDes -------------------------------------------------------------------


def _laporan(kind: str, module: str) -> Response:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return fail(LAPORAN, 422, _("Isi kiriman bukan JSON laporan."))
    refused = _wrong_village(str(body.get("desa_id") or ""), "desa_id")
    if refused:
        return refused
    field = f"laporan_{kind}"
    items = body.get(field)
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        return fail(LAPORAN, 422, _("Daftar %(field)s tidak ada dalam kiriman.", field=field), field)
    if not items:
        pushes.logged(
            g.village,
            module,
            FAILED,
            notes=[Note(EMPTY_REPORTS)],
            size=request.content_length or 0,
            token=g.token,
        )
        db.session.commit()
        return fail(LAPORAN, 422, _note_text(Note(EMPTY_REPORTS)), field)
    pushes.receive(g.village, module, request.get_data(), name=f"{field}.json", token=g.token)
    db.session.commit()
    return ok(_("%(n)s laporan diterima Balai.", n=len(items)))


@bp.post("/laporan-penduduk")
@_limited(upload=True)
@with_token(LAPORAN)
def laporan_penduduk():
    return _laporan("penduduk", pushes.LAPORAN_PENDUDUK)


@bp.post("/laporan-apbdes")
@_limited(upload=True)
@with_token(LAPORAN)
def laporan_apbdes():
    return _laporan("apbdes", pushes.LAPORAN_APBDES)


# --- zips of CSVs: pembangunan, program bantuan ------------------------------------------------


def _zip_push(module: str, done: str) -> Response:
    name, upload = _upload(module, GUZZLE)
    if name is None:
        return upload
    refused = _wrong_village(request.form.get("desa_id"), "desa_id")
    if refused:
        return refused
    size = request.content_length or 0
    try:
        opensid.open_zip(upload.stream)
    except PayloadError as err:
        return _refused_file(module, GUZZLE, name, size, err)
    upload.stream.seek(0)
    pushes.receive(g.village, module, upload.stream.read(), name=name, token=g.token)
    db.session.commit()
    return ok(done)


@bp.post("/pembangunan")
@_limited(upload=True)
@with_token(GUZZLE)
def pembangunan():
    return _zip_push(pushes.PEMBANGUNAN, _("Data pembangunan diterima Balai dan sedang diproses."))


@bp.post("/pembangunan/dokumentasi")
@_limited(upload=True)
@with_token(GUZZLE)
def pembangunan_dokumentasi():
    return _zip_push(pushes.DOKUMENTASI, _("Dokumentasi pembangunan diterima Balai dan sedang diproses."))


@bp.post("/program-bantuan")
@_limited(upload=True)
@with_token(GUZZLE)
def program_bantuan():
    return _zip_push(pushes.PROGRAM, _("Data program bantuan diterima Balai dan sedang diproses."))


@bp.post("/program-bantuan/peserta")
@_limited(upload=True)
@with_token(GUZZLE)
def program_bantuan_peserta():
    return _zip_push(pushes.PESERTA, _("Data peserta program bantuan diterima Balai dan sedang diproses."))


# --- pesan ---------------------------------------------------------------------------------------


@bp.post("/pesan")
@_limited()
@with_token(GUZZLE)
def pesan():
    refused = _wrong_village(request.form.get("kode_desa"), "kode_desa")
    if refused:
        return refused
    raw_thread = (request.form.get("pesan_id") or "").strip()
    try:
        messages.from_village(
            g.village,
            text=request.form.get("pesan", ""),
            title=request.form.get("judul", ""),
            sender_name=request.form.get("nama_pengirim", ""),
            thread_id=int(raw_thread) if raw_thread.isdigit() else None,
        )
    except DomainError as err:
        db.session.rollback()
        # OpenSID shows "Gagal: {message}" for a falsy status.
        return _json(200, {"status": False, "message": str(escape(_(err.message, **err.params)))})
    db.session.commit()
    return ok(_("Pesan terkirim ke Balai."))


@bp.post("/pesan/getpesan")
@_limited()
@with_token(GUZZLE)
def getpesan():
    refused = _wrong_village(request.form.get("kode_desa"), "kode_desa")
    if refused:
        return refused
    after = request.form.get("id", "0").strip()
    data = messages.since(g.village, int(after) if after.isdigit() else 0)
    db.session.commit()
    return _json(200, {"status": "success", "data": data})


# --- surat (letters waiting for the kecamatan's e-signature: Balai has none) ---------------------


@bp.get("/surat")
@_limited()
@with_token(GUZZLE)
def surat():
    refused = _wrong_village(request.args.get("desa_id"), "desa_id")
    if refused:
        return refused
    db.session.commit()
    return _json(200, {"status": "success", "data": []})


# --- anything else -------------------------------------------------------------------------------


@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@limiter.limit(lambda: current_app.config["OPENDK_ADDRESS_LIMIT"], key_func=address_key)
def unknown(rest: str):
    return fail(GUZZLE, 404, _("Alamat API OpenDK ini tidak dikenal Balai."))
