"""Every message Balai sends, in one place: short (one SMS where possible), always with a link.

Indonesian first; English when the recipient chose it. Parameters are snapshotted into the
notification when it is written, so a message says what was true at that moment.
"""

from __future__ import annotations

from dataclasses import dataclass

SMS_LIMIT = 160

# kind -> locale -> (title, text). Text placeholders: {village} {service} {code} {status} {note} {link}
# and, for orders and digests, {bumdes} {summary} {overdue} {due_today}; for announcements {title}.
TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    "request_received": {
        "id": ("Permohonan diterima", "{village}: permohonan {service} diterima. Kode {code}. Lacak: {link}"),
        "en": (
            "Request received",
            "{village}: your {service} request was received. Code {code}. Track: {link}",
        ),
    },
    "status_changed": {
        "id": ("Status permohonan", "{village}: permohonan {code} kini {status}. Lacak: {link}"),
        "en": ("Request status", "{village}: request {code} is now {status}. Track: {link}"),
    },
    "needs_fix": {
        "id": ("Perlu perbaikan", "{village}: permohonan {code} perlu perbaikan: {note}. Buka: {link}"),
        "en": ("Needs fixing", "{village}: request {code} needs fixing: {note}. Open: {link}"),
    },
    "ready": {
        "id": ("Siap diambil", "{village}: surat {code} siap diambil di kantor desa. Bawa KTP. {link}"),
        "en": (
            "Ready for pickup",
            "{village}: letter {code} is ready at the village office. Bring your ID. {link}",
        ),
    },
    "rejected": {
        "id": ("Permohonan ditolak", "{village}: permohonan {code} ditolak: {note}. {link}"),
        "en": ("Request rejected", "{village}: request {code} was rejected: {note}. {link}"),
    },
    "done": {
        "id": ("Permohonan selesai", "{village}: permohonan {code} selesai. Terima kasih. {link}"),
        "en": ("Request completed", "{village}: request {code} is complete. Thank you. {link}"),
    },
    "private_link": {
        "id": (
            "Link pribadi permohonan",
            "{village}: link pribadi permohonan {code}: {link} Jangan bagikan link ini kepada siapa pun.",
        ),
        "en": (
            "Private link",
            "{village}: private link of request {code}: {link} Do not share it with anyone.",
        ),
    },
    "new_request": {
        "id": ("Permohonan baru", "Permohonan baru: {service} ({code}). {link}"),
        "en": ("New request", "New request: {service} ({code}). {link}"),
    },
    "resubmitted": {
        "id": ("Permohonan diajukan ulang", "Permohonan {code} ({service}) sudah diperbaiki pemohon. {link}"),
        "en": ("Request resubmitted", "Request {code} ({service}) was fixed by the resident. {link}"),
    },
    "new_order": {
        "id": ("Pesanan baru", "Pesanan baru di {bumdes}: {summary}. {link}"),
        "en": ("New order", "New order at {bumdes}: {summary}. {link}"),
    },
    "announcement": {
        "id": ("Pengumuman desa", "{village}: {title}. Baca: {link}"),
        "en": ("Village announcement", "{village}: {title}. Read: {link}"),
    },
    "sla_digest": {
        "id": (
            "Ringkasan tenggat",
            "{village}: {overdue} permohonan lewat tenggat, {due_today} jatuh tempo hari ini. {link}",
        ),
        "en": ("Deadline summary", "{village}: {overdue} requests overdue, {due_today} due today. {link}"),
    },
}

# The same messages for a complaint: it is followed up, never collected (app.domain.states).
COMPLAINT_TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    "request_received": {
        "id": ("Pengaduan diterima", "{village}: pengaduan Anda diterima. Kode {code}. Lacak: {link}"),
        "en": ("Complaint received", "{village}: your complaint was received. Code {code}. Track: {link}"),
    },
    "status_changed": {
        "id": ("Status pengaduan", "{village}: pengaduan {code} kini {status}. Lacak: {link}"),
        "en": ("Complaint status", "{village}: complaint {code} is now {status}. Track: {link}"),
    },
    "needs_fix": {
        "id": ("Perlu keterangan", "{village}: pengaduan {code} perlu keterangan: {note}. Buka: {link}"),
        "en": ("More detail needed", "{village}: complaint {code} needs more detail: {note}. Open: {link}"),
    },
    "rejected": {
        "id": (
            "Pengaduan tidak ditindaklanjuti",
            "{village}: pengaduan {code} tidak ditindaklanjuti: {note}. {link}",
        ),
        "en": ("Complaint not taken up", "{village}: complaint {code} will not be taken up: {note}. {link}"),
    },
    "done": {
        "id": (
            "Pengaduan selesai ditangani",
            "{village}: pengaduan {code} selesai ditangani: {note}. {link}",
        ),
        "en": ("Complaint resolved", "{village}: complaint {code} was resolved: {note}. {link}"),
    },
}

# The words residents read for each status (the Indonesian ones match app.domain.states).
STATUS_WORDS = {
    "id": {
        "diajukan": "diajukan",
        "diverifikasi": "diverifikasi",
        "diproses": "diproses",
        "siap_diambil": "siap diambil",
        "selesai": "selesai",
        "perlu_perbaikan": "perlu perbaikan",
        "ditolak": "ditolak",
    },
    "en": {
        "diajukan": "submitted",
        "diverifikasi": "verified",
        "diproses": "in progress",
        "siap_diambil": "ready for pickup",
        "selesai": "complete",
        "perlu_perbaikan": "needs fixing",
        "ditolak": "rejected",
    },
}

COMPLAINT_STATUS_WORDS = {
    "id": {
        "diajukan": "diterima",
        "diverifikasi": "diperiksa",
        "diproses": "ditindaklanjuti",
        "siap_diambil": "ditindaklanjuti",
        "selesai": "selesai ditangani",
        "perlu_perbaikan": "perlu keterangan",
        "ditolak": "tidak ditindaklanjuti",
    },
    "en": {
        "diajukan": "received",
        "diverifikasi": "being checked",
        "diproses": "being followed up",
        "siap_diambil": "being followed up",
        "selesai": "resolved",
        "perlu_perbaikan": "needs more detail",
        "ditolak": "not taken up",
    },
}

# Messages that ask the resident to act (fix the form, fetch the letter) carry a fresh private
# link, made when the message is sent (app.notifications.jobs); the asked-for link is one of them.
ASKED_LINK = "private_link"
ACTIONABLE = frozenset({"needs_fix", "ready", ASKED_LINK})

# Which message a resident gets when their request reaches a status.
KIND_FOR_STATUS = {
    "diverifikasi": "status_changed",
    "diproses": "status_changed",
    "perlu_perbaikan": "needs_fix",
    "siap_diambil": "ready",
    "selesai": "done",
    "ditolak": "rejected",
}


@dataclass(frozen=True)
class Rendered:
    title: str
    text: str
    url: str  # absolute, for SMS, WhatsApp and email
    path: str  # same-origin path, for Web Push and in-app links


def tracking_path(code: str) -> str:
    return f"/lacak/{code}"


def link_path(kind: str, params: dict) -> str:
    """Where a message points: the request's tracking page, or a path given with the event."""
    if params.get("path"):
        return str(params["path"])
    if params.get("code"):
        return tracking_path(params["code"])
    return "/notifikasi"


def render(kind: str, params: dict, locale: str | None, base_url: str) -> Rendered:
    """The title and text of a message in the recipient's language, trimmed to one SMS if it can be."""
    lang = locale if locale in ("id", "en") else "id"
    complaint = bool(params.get("complaint")) and kind in COMPLAINT_TEMPLATES
    title, text = (COMPLAINT_TEMPLATES if complaint else TEMPLATES)[kind][lang]
    words = (COMPLAINT_STATUS_WORDS if params.get("complaint") else STATUS_WORDS)[lang]
    path = link_path(kind, params)
    url = base_url.rstrip("/") + path
    values = {
        "village": "",
        "service": "",
        "code": "",
        "note": "",
        "bumdes": "",
        "summary": "",
        "overdue": 0,
        "due_today": 0,
        "title": "",
        **{k: v for k, v in params.items() if v is not None},
        "link": url,
    }
    values["service"] = _clip(str(values["service"]), 40)
    # An official's note is a sentence of its own: its closing period would double the template's.
    values["note"] = _clip(str(values["note"]), 10_000).rstrip(" .") or "-"
    values["status"] = words.get(str(params.get("status", "")), str(params.get("status", "")))
    body = text.format(**values)
    if len(body) > SMS_LIMIT and values["note"]:
        # The note is what can give way: the link must survive, the rest is short and fixed.
        room = len(str(values["note"])) - (len(body) - SMS_LIMIT)
        values["note"] = _clip(str(values["note"]), max(room, 20))
        # A cut note ends in "...": the template's own period after it would make four.
        body = text.replace("{note}.", "{note}").format(**values)
    return Rendered(title=title, text=body, url=url, path=path)


def template_params(kind: str, params: dict, locale: str | None, base_url: str) -> list[str]:
    """Body parameters for approved WhatsApp templates: {{1}} place, {{2}} code, {{3}} status/summary, {{4}} link."""
    lang = locale if locale in ("id", "en") else "id"
    rendered = render(kind, params, lang, base_url)
    status = (COMPLAINT_STATUS_WORDS if params.get("complaint") else STATUS_WORDS)[lang].get(
        str(params.get("status", "")), ""
    )
    summary = params.get("summary") or params.get("note") or status or rendered.title
    place = params.get("village") or params.get("bumdes") or "Balai"
    return [str(place), str(params.get("code") or "-"), _clip(str(summary), 60), rendered.url]


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    # Three dots, not the ellipsis character: one non-GSM character turns an SMS into 70-character parts.
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."
