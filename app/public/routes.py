from flask import abort, current_app, request, send_file
from sqlalchemy import func, or_, select

from app.domain.storage import PhotoStore
from app.extensions import db
from app.models import Region, Village
from app.pagecache import shared
from app.public import bp
from app.regions import names_of, with_ancestors
from app.web import active_village_or_404, render


@bp.route("/")
@shared
def home():
    q = (request.args.get("q") or "").strip()
    stmt = select(Village).where(Village.active.is_(True))
    order = [Village.name]
    if q:
        # A village's name; its web address too when what was typed looks like one ("sukamaju-2").
        # (Either one in an OR made PostgreSQL read all 83,762 villages: 150 ms for "cot".)
        match = Village.name.ilike(f"%{q}%")
        if "-" in q:
            match = or_(match, Village.slug.ilike(f"%{q}%"))
        stmt = stmt.join(Region, Region.code == Village.region_code).where(match)
        if len(q) >= 3:
            # Not by the name index: walking all names in order to find 50 "suka" ones (most under
            # S) cost 150 ms; the trigram match, then a sort of what it found, 15. Shorter words
            # match so many villages that the walk finds 50 at once (and trigrams need three letters).
            order = [func.lower(Village.name), Village.name]
    villages = db.session.scalars(stmt.order_by(*order).limit(50)).all()
    names = names_of(with_ancestors(v.region.parent_code for v in villages))
    return render("public/home.html", fragment="public/_villages.html", villages=villages, names=names, q=q)


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
