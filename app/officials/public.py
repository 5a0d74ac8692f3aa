"""Public letter pages: anyone may verify a letter; a resident downloads theirs by the private link."""

from __future__ import annotations

from flask import Response, abort

from app import letters, workflow
from app.domain.nik import mask_nik
from app.extensions import db
from app.models import Role, ServiceRequest
from app.models.letters import ISSUED, Letter
from app.web import render

PRIVATE = "private, no-store"


def verify(token: str):
    """What a letter's QR opens: what a bank or employer needs to match the paper, and who really acted.

    The holder's full name as printed (the letter is in the verifier's hands anyway) but the NIK masked;
    the head who approved it, or, when no head did, the official who issued it.
    """
    letter = letters.find_by_token(token)
    if letter is None:
        abort(404)
    req = db.session.get(ServiceRequest, letter.request_id)
    response = render(
        "officials/verify.html",
        letter=letter,
        village=letter.village,
        issued_on=workflow.local_today(letter.issued_at),
        masked_nik=mask_nik(req.nik) if req is not None and req.nik else "",
        approver=letter.approved_by if letter.approved_by and letter.approved_by.role == Role.HEAD else None,
        issuer=letter.requested_by,
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def letter_for_resident(token: str):
    """The issued PDF, for whoever holds the request's private link."""
    req = workflow.find_by_fix_token(token) if 0 < len(token) <= 100 else None
    letter: Letter | None = letters.letter_for(req.id) if req is not None else None
    if letter is None or letter.state != ISSUED:
        abort(404)
    response = Response(letter.pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="surat-{req.tracking_code}.pdf"'
    response.headers["Cache-Control"] = PRIVATE
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
