"""Public letter pages: anyone may verify a letter; a resident downloads theirs by the private link."""

from __future__ import annotations

from flask import Response, abort

from app import letters, workflow
from app.domain.text import mask_name
from app.models.letters import ISSUED, Letter
from app.web import render

PRIVATE = "private, no-store"


def verify(token: str):
    """What a letter's QR opens: enough to tell a real letter from a forged one, nothing private."""
    letter = letters.find_by_token(token)
    if letter is None:
        abort(404)
    response = render(
        "officials/verify.html",
        letter=letter,
        village=letter.village,
        issued_on=workflow.local_today(letter.issued_at),
        masked_name=mask_name(letter.holder_name),
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
