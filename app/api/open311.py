"""Open311 GeoReport v2, one jurisdiction per village (jurisdiction_id = the village's region code).

Only complaint services are exposed: letters are personal documents, not civic reports. Nothing
that identifies a resident leaves: no NIK, name, phone, email, address text or photos. The
resident's own words are not echoed either, as they may name people; ``description`` and
``status_notes`` carry the service and Balai's own status instead.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, time, timedelta

from flask import Response, jsonify, request
from flask_babel import gettext as _
from sqlalchemy import select

from app import limits, workflow
from app.access import village_desk
from app.api import bp
from app.api.formats import xml_body
from app.domain import states
from app.domain.errors import DomainError
from app.domain.phone import normalize_phone
from app.domain.tracking import normalize_tracking_code
from app.extensions import db, limiter
from app.i18n import status_label
from app.models import Service, ServiceRequest, Village, utcnow
from app.models.services import COMPLAINT
from app.stats.keys import find_key
from app.web import absolute_url

FORMATS = "<any(json,xml):fmt>"
MAX_RESULTS = 1000
DEFAULT_DAYS = 90
FIELD_TYPES = {
    "text": "string",
    "textarea": "text",
    "date": "datetime",
    "select": "singlevaluelist",
    "number": "number",
}


class ApiError(Exception):
    def __init__(self, code: int, description: str):
        super().__init__(description)
        self.code = code
        self.description = description


def _answer(fmt: str, root: str, item: str, items: list[dict], status: int = 200) -> Response:
    if fmt == "xml":
        return Response(xml_body(root, item, items), status=status, mimetype="text/xml")
    response = jsonify(items)
    response.status_code = status
    return response


def _error(fmt: str, err: ApiError) -> Response:
    return _answer(fmt, "errors", "error", [{"code": err.code, "description": err.description}], err.code)


def _guarded(view):
    from functools import wraps

    @wraps(view)
    def wrapped(*args, fmt: str, **kwargs):
        try:
            return view(*args, fmt=fmt, **kwargs)
        except ApiError as err:
            db.session.rollback()
            return _error(fmt, err)

    return wrapped


@bp.errorhandler(429)
def too_many(exc):
    description = (
        "too many requests from this address (unknown tokens count as guesses); "
        "wait a few minutes and try again"
    )
    fmt = (request.view_args or {}).get("fmt")
    if request.path.startswith("/api/open311/"):
        response = _error("xml" if fmt == "xml" else "json", ApiError(429, description))
    else:
        response = jsonify({"error": "Too Many Requests", "status": 429, "description": description})
        response.status_code = 429
    response.headers["Retry-After"] = "60"
    return response


def _village() -> Village:
    code = (request.values.get("jurisdiction_id") or "").strip()
    if not code:
        raise ApiError(400, "jurisdiction_id is required: the village's region code, e.g. 18.09.10.2004")
    village = db.session.scalar(select(Village).where(Village.region_code == code, Village.active.is_(True)))
    if village is None:
        raise ApiError(404, f"jurisdiction_id {code} is not a village served by Balai")
    return village


def _services(village: Village) -> list[Service]:
    return list(
        db.session.scalars(
            select(Service)
            .where(Service.village_id == village.id, Service.active.is_(True), Service.kind == COMPLAINT)
            .order_by(Service.position, Service.id)
        )
    )


def _service_json(service: Service) -> dict:
    return {
        "service_code": service.code,
        "service_name": service.name,
        "description": service.description or service.name,
        "metadata": bool(service.fields),
        "type": "realtime",
        "keywords": "pengaduan",
        "group": "pengaduan",
    }


@bp.route(f"/open311/v2/discovery.{FORMATS}")
@_guarded
def discovery(fmt: str):
    base = absolute_url("api.services", fmt="json").rsplit("/", 1)[0] + "/"
    body = {
        "changeset": "2025-01-01T00:00:00+07:00",
        "contact": "Balai",
        "key_service": _("Kunci API dibuat oleh operator desa di Balai (menu Kunci API)."),
        "endpoints": [
            {
                "specification": "http://wiki.open311.org/GeoReport_v2",
                "url": base,
                "changeset": "2025-01-01T00:00:00+07:00",
                "type": "production",
                "formats": ["application/json", "text/xml"],
            }
        ],
    }
    if fmt == "xml":
        return Response(xml_body("discovery", "info", [body]), mimetype="text/xml")
    return jsonify(body)


@bp.route(f"/open311/v2/services.{FORMATS}")
@_guarded
def services(fmt: str):
    village = _village()
    return _answer(fmt, "services", "service", [_service_json(s) for s in _services(village)])


@bp.route(f"/open311/v2/services/<service_code>.{FORMATS}")
@_guarded
def service_definition(service_code: str, fmt: str):
    village = _village()
    service = next((s for s in _services(village) if s.code == service_code), None)
    if service is None:
        raise ApiError(404, f"service_code {service_code} not found")
    attributes = []
    for order, f in enumerate(service.fields or [], start=1):
        attribute = {
            "variable": True,
            "code": f.get("name", ""),
            "datatype": FIELD_TYPES.get(f.get("type", "text"), "string"),
            "required": bool(f.get("required")),
            "datatype_description": "",
            "order": order,
            "description": f.get("label", f.get("name", "")),
        }
        if f.get("options"):
            attribute["values"] = [{"key": str(o), "name": str(o)} for o in f["options"]]
        attributes.append(attribute)
    body = {"service_code": service.code, "attributes": attributes}
    if fmt == "xml":
        return Response(_definition_xml(body), mimetype="text/xml")
    return jsonify(body)


def _definition_xml(body: dict) -> str:
    from xml.etree import ElementTree as ET

    from app.api.formats import _xml_value

    root = ET.Element("service_definition")
    _xml_value(root, "service_code", body["service_code"])
    _xml_value(root, "attributes", [{**a} for a in body["attributes"]])
    # _xml_value names list children by dropping the trailing "s": attributes -> attribute.
    return '<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(root, encoding="unicode")


# --- requests ------------------------------------------------------------------------------------


def _moment(value: datetime | None) -> str | None:
    return value.astimezone(workflow.TZ).isoformat(timespec="seconds") if value else None


def _round(value) -> float | None:
    """Coordinates to about 100 m: enough to find a broken culvert, not to pinpoint a house."""
    try:
        return round(float(value), 3)
    except (TypeError, ValueError):
        return None


def request_json(req: ServiceRequest, village: Village) -> dict:
    """A request as GeoReport fields; built from a whitelist so no personal field can slip in."""
    label = status_label(req.status)
    expected = datetime.combine(req.due_date, time(23, 59), tzinfo=workflow.TZ) if req.due_date else None
    data = req.data or {}
    return {
        "service_request_id": str(req.id),
        "status": "closed" if req.status in states.FINAL_STATUSES else "open",
        "status_notes": _("Status Balai: %(status)s", status=label),
        "service_name": req.service.name,
        "service_code": req.service.code,
        "description": _("%(service)s. Status Balai: %(status)s.", service=req.service.name, status=label),
        "agency_responsible": village.display_name,
        "service_notice": "",
        "requested_datetime": _moment(req.submitted_at),
        "updated_datetime": _moment(req.updated_at or req.submitted_at),
        "expected_datetime": _moment(expected),
        "address": "",
        "address_id": "",
        "zipcode": "",
        "lat": _round(data.get("lat")),
        "long": _round(data.get("long")),
        "media_url": "",
    }


def _parse_date(raw: str | None, name: str) -> datetime | None:
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"{name} must be a W3C date-time, e.g. 2025-01-31T00:00:00+07:00") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=workflow.TZ)
    return value.astimezone(UTC)


def _complaints(village: Village):
    return (
        select(ServiceRequest)
        .join(Service, Service.id == ServiceRequest.service_id)
        .where(ServiceRequest.village_id == village.id, Service.kind == COMPLAINT, village_desk())
    )


@bp.route(f"/open311/v2/requests.{FORMATS}", methods=["GET"])
@_guarded
def list_requests(fmt: str):
    village = _village()
    stmt = _complaints(village)
    ids = request.args.get("service_request_id")
    if ids:
        wanted = [int(x) for x in ids.split(",") if x.strip().isdecimal()]
        stmt = stmt.where(ServiceRequest.id.in_(wanted[:MAX_RESULTS]))
    else:
        codes = [c.strip() for c in (request.args.get("service_code") or "").split(",") if c.strip()]
        if codes:
            stmt = stmt.where(Service.code.in_(codes))
        start = _parse_date(request.args.get("start_date"), "start_date")
        end = _parse_date(request.args.get("end_date"), "end_date")
        if start is None and end is None:
            start = utcnow() - timedelta(days=DEFAULT_DAYS)
        if start is not None:
            stmt = stmt.where(ServiceRequest.submitted_at >= start)
        if end is not None:
            stmt = stmt.where(ServiceRequest.submitted_at <= end)
        wanted_status = {s.strip() for s in (request.args.get("status") or "").split(",") if s.strip()}
        if wanted_status - {"open", "closed"}:
            raise ApiError(400, "status must be open, closed or both separated by a comma")
        if wanted_status == {"open"}:
            stmt = stmt.where(ServiceRequest.status.in_(states.OPEN_STATUSES))
        elif wanted_status == {"closed"}:
            stmt = stmt.where(ServiceRequest.status.in_(states.FINAL_STATUSES))
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), 1_000_000)  # no OFFSET overflow
    rows = db.session.scalars(
        stmt.order_by(ServiceRequest.submitted_at.desc(), ServiceRequest.id.desc())
        .offset((page - 1) * MAX_RESULTS)
        .limit(MAX_RESULTS)
    ).all()
    return _answer(fmt, "service_requests", "request", [request_json(r, village) for r in rows])


@bp.route(f"/open311/v2/requests/<int:request_id>.{FORMATS}")
@_guarded
def get_request(request_id: int, fmt: str):
    village = _village()
    req = db.session.scalar(_complaints(village).where(ServiceRequest.id == request_id))
    if req is None:
        raise ApiError(404, f"service_request_id {request_id} not found")
    return _answer(fmt, "service_requests", "request", [request_json(req, village)])


@bp.route(f"/open311/v2/tokens/<token>.{FORMATS}")
@limits.counts_code_misses
@_guarded
def token(token: str, fmt: str):
    village = _village()
    try:
        code = normalize_tracking_code(token)
    except DomainError:
        code = None
    req = (
        db.session.scalar(_complaints(village).where(workflow.code_matches(code)).limit(1)) if code else None
    )
    if req is None:
        limits.code_missed()  # a token is a tracking code: guesses count as on /lacak
        raise ApiError(404, "token not found")
    return _answer(fmt, "service_requests", "request", [{"service_request_id": str(req.id), "token": token}])


@bp.route(f"/open311/v2/requests.{FORMATS}", methods=["POST"])
@limiter.limit("60 per minute")
@limiter.limit(limits.configured("API_KEY_LIMIT"), key_func=limits.api_key_key)
@_guarded
def post_request(fmt: str):
    form = request.form
    village = _village()
    key = find_key(form.get("api_key"))
    if key is None or key.village_id != village.id:
        # A key of another village is as good as no key here.
        raise ApiError(403, "api_key is missing, revoked, or not issued for this jurisdiction_id")
    service = next((s for s in _services(village) if s.code == (form.get("service_code") or "")), None)
    if service is None:
        raise ApiError(404, "service_code not found in this jurisdiction")
    lat, lon = form.get("lat"), form.get("long")
    address = (form.get("address_string") or "").strip()[:500]
    if (lat is None or lon is None) and not address and not form.get("address_id"):
        raise ApiError(400, "a location is required: lat and long, or address_string")
    data: dict = {}
    if lat is not None and lon is not None:
        try:
            data["lat"], data["long"] = float(lat), float(lon)
        except ValueError:
            raise ApiError(400, "lat and long must be numbers") from None
        if not (-90 <= data["lat"] <= 90 and -180 <= data["long"] <= 180):
            raise ApiError(400, "lat and long are out of range")
    if address:
        data["address_string"] = address
    for field in service.fields or []:
        name = field.get("name")
        value = form.get(f"attribute[{name}]")
        if value:
            data[name] = value.strip()[:1000]
        elif field.get("required"):
            raise ApiError(400, f"attribute[{name}] is required for this service")
    description = (form.get("description") or "").strip()
    if not description:
        raise ApiError(400, "description is required")
    phone = (form.get("phone") or "").strip()
    if phone:
        try:
            phone = normalize_phone(phone)
        except DomainError:
            raise ApiError(400, "phone is not a valid Indonesian mobile number") from None
    email = (form.get("email") or "").strip()[:120] or None
    name = " ".join(
        x for x in ((form.get("first_name") or "").strip(), (form.get("last_name") or "").strip()) if x
    )
    # Replays are found by key: one app's Idempotency-Key can never name another app's request.
    sent_key = request.headers.get("Idempotency-Key")
    replay = (
        f"{key.id}|idempotency-key|{sent_key}"
        if sent_key
        else "|".join(
            [
                str(key.id),
                service.code,
                description,
                str(lat),
                str(lon),
                address,
                name,
                phone,
                email or "",
                form.get("device_id") or "",
                form.get("account_id") or "",
            ]
        )
    )
    submitted = workflow.submit_request(
        village,
        service,
        nik="",
        name=(name or _("Pelapor lewat aplikasi"))[:120],
        phone=phone or None,
        email=email,
        idempotency_key=hashlib.sha256(replay.encode()).hexdigest(),
        data=data,
        purpose=description[:4000],
        channel="api",
        locale="id",
    )
    key.last_used_at = utcnow()
    db.session.commit()
    req = submitted.request
    notice = _(
        "Pengaduan diterima %(village)s. Batas waktu layanan: %(due)s.",
        village=village.display_name,
        due=req.due_date.isoformat(),
    )
    return _answer(
        fmt,
        "service_requests",
        "request",
        [
            {
                "service_request_id": str(req.id),
                "token": req.tracking_code,
                "service_notice": notice,
                "account_id": None,
            }
        ],
    )
