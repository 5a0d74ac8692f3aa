from flask import abort, current_app, request, send_file
from sqlalchemy import or_, select

from app.domain.search import query_words, typo_patterns, whole_word, word_start
from app.domain.storage import PhotoStore
from app.extensions import db
from app.models import Village
from app.pagecache import shared
from app.public import bp
from app.regions import names_of, with_ancestors
from app.web import active_village_or_404, render_shared


@bp.route("/")
@shared
def home():
    q = (request.args.get("q") or "").strip()[:100]

    def context() -> dict:
        words = query_words(q)
        villages = find_villages(words)
        names = names_of(with_ancestors(v.region.parent_code for v in villages))
        return {"villages": villages, "names": names, "q": q, "searched": bool(words)}

    return render_shared("public/home.html", (q,), context, fragment="public/_villages.html", q=q)


def find_villages(words: list[str], limit: int = 50) -> list[Village]:
    """Active villages whose name, kecamatan or kabupaten each word begins; one typo forgiven if none do."""
    stmt = select(Village).where(Village.active.is_(True)).order_by(Village.name, Village.id).limit(limit)
    if not words:
        return list(db.session.scalars(stmt))
    found = list(db.session.scalars(stmt.where(*(_like(word_start(w)) for w in words))))
    if found or not any(typo_patterns(w) for w in words):
        return found
    near = [or_(_like(word_start(w)), *(_like(whole_word(p)) for p in typo_patterns(w))) for w in words]
    return list(db.session.scalars(stmt.where(*near)))


def _like(pattern: str):
    # PostgreSQL answers from the trigram index; SQLite scans (bench/village_search_bench.py).
    return Village.search_text.like(pattern)


@bp.route("/desa/<slug>/logo")
def logo(slug: str):
    village = active_village_or_404(slug)
    if not village.logo:
        abort(404)
    store = PhotoStore(current_app.config["UPLOAD_DIR"])
    if not store.exists(village.logo):
        abort(404)
    response = send_file(store.path(village.logo), mimetype="image/webp", max_age=86400)
    return response
