"""Open data under /api/v1/: regions, villages, services, aggregate statistics, products, APBDes.

Aggregates and what villages publish about themselves; never a resident's record.
"""

from __future__ import annotations

from flask import Response, abort, jsonify, render_template, request, url_for
from sqlalchemy import func, select

from app.access import region_prefix_filter
from app.api import bp
from app.api.formats import cacheable, csv_response
from app.api.spec import openapi_document
from app.domain import states
from app.extensions import db
from app.models import Region, Service, Village
from app.models.profile import BIDANG, BudgetLine, VillageProfile
from app.stats import figures
from app.web import absolute_url
from app.workflow import local_today

DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 1000


def _page() -> tuple[int, int]:
    # Clamped: an absurd page number would overflow the database's OFFSET integer (a 500).
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), 1_000_000)
    per_page = min(
        max(request.args.get("per_page", DEFAULT_PER_PAGE, type=int) or DEFAULT_PER_PAGE, 1), MAX_PER_PAGE
    )
    return page, per_page


def _listing(stmt, to_row, columns: list[str], name: str) -> Response:
    """One page of ``stmt`` as JSON (data, meta, links) or CSV, with Link and ETag headers."""
    page, per_page = _page()
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = [to_row(r) for r in db.session.execute(stmt.offset((page - 1) * per_page).limit(per_page))]
    args = request.args.to_dict()
    links = {}
    if page * per_page < total:
        links["next"] = url_for(
            request.endpoint, **{**request.view_args, **args, "page": page + 1, "per_page": per_page}
        )
    if page > 1:
        links["prev"] = url_for(
            request.endpoint, **{**request.view_args, **args, "page": page - 1, "per_page": per_page}
        )
    if request.args.get("format") == "csv":
        response = csv_response(rows, columns, f"balai-{name}-{page}.csv")
    else:
        response = jsonify(
            {"data": rows, "meta": {"page": page, "per_page": per_page, "total": total}, "links": links}
        )
    response.headers["X-Total-Count"] = str(total)
    if links:
        response.headers["Link"] = ", ".join(f'<{url}>; rel="{rel}"' for rel, url in links.items())
    return cacheable(response)


@bp.route("/")
def index():
    return render_template("api/index.html", spec=openapi_document())


@bp.route("/openapi.json")
def openapi():
    return cacheable(jsonify(openapi_document()), max_age=3600)


@bp.route("/v1/regions")
def v1_regions():
    parent = request.args.get("parent")
    stmt = select(Region.code, Region.name, Region.level, Region.parent_code)
    stmt = stmt.where(Region.parent_code == parent) if parent else stmt.where(Region.level == 1)
    return _listing(
        stmt.order_by(Region.code),
        lambda r: {"code": r.code, "name": r.name, "level": r.level, "parent_code": r.parent_code},
        ["code", "name", "level", "parent_code"],
        "regions",
    )


def _region_where(column):
    code = request.args.get("region")
    return region_prefix_filter(column, code) if code else None


@bp.route("/v1/villages")
def v1_villages():
    stmt = (
        select(Village, VillageProfile)
        .outerjoin(VillageProfile, VillageProfile.village_id == Village.id)
        .where(Village.active.is_(True))
        .order_by(Village.region_code)
    )
    where = _region_where(Village.region_code)
    if where is not None:
        stmt = stmt.where(where)

    def row(r) -> dict:
        v, p = r
        return {
            "slug": v.slug,
            "name": v.display_name,
            "region_code": v.region_code,
            "district_code": v.region_code.rsplit(".", 1)[0],
            "latitude": p.latitude if p else None,
            "longitude": p.longitude if p else None,
            "population": p.population if p else None,
            "households": p.households if p else None,
            "url": absolute_url("dashboards.profile", slug=v.slug),
        }

    columns = [
        "slug",
        "name",
        "region_code",
        "district_code",
        "latitude",
        "longitude",
        "population",
        "households",
        "url",
    ]
    return _listing(stmt, row, columns, "villages")


@bp.route("/v1/services")
def v1_services():
    stmt = (
        select(
            Service.code,
            Service.name,
            Service.kind,
            Service.sla_days,
            Service.fee,
            Village.slug,
            Village.region_code,
        )
        .join(Village, Village.id == Service.village_id)
        .where(Village.active.is_(True), Service.active.is_(True))
        .order_by(Village.region_code, Service.position, Service.id)
    )
    where = _region_where(Village.region_code)
    if where is not None:
        stmt = stmt.where(where)
    if request.args.get("village"):
        stmt = stmt.where(Village.slug == request.args["village"])
    columns = ["village", "region_code", "code", "name", "kind", "sla_days", "fee"]
    return _listing(
        stmt,
        lambda r: {
            "village": r.slug,
            "region_code": r.region_code,
            "code": r.code,
            "name": r.name,
            "kind": r.kind,
            "sla_days": r.sla_days,
            "fee": r.fee,
        },
        columns,
        "services",
    )


def _stat_row(r: figures.Row) -> dict:
    return {
        "code": r.key,
        "name": r.name,
        "active_villages": r.active,
        "requests": r.submitted,
        "open": r.open,
        "done": r.done,
        "rejected": r.rejected,
        "overdue": r.overdue,
        "median_days": None if r.median_days is None else round(r.median_days, 2),
        "within_sla_share": None if r.sla_share is None else round(r.sla_share, 4),
        "products": r.products,
        "orders": r.orders,
        **{f"status_{s}": r.by_status.get(s, 0) for s in states.STATUSES},
    }


STAT_COLUMNS = list(_stat_row(figures.Row(key="", name="")))


@bp.route("/v1/stats/<code>")
def v1_stats(code: str):
    today = local_today()
    period = figures.period_for(request.args.get("period"), today)
    board = figures.dashboard(code, period, today)
    if board is None:
        abort(404)
    children = [_stat_row(r) for r in board.rows] if board.region.level < 4 else []
    if request.args.get("format") == "csv":
        response = csv_response(
            [*children, _stat_row(board.total)], STAT_COLUMNS, f"balai-stats-{code}-{period.key}.csv"
        )
    else:
        response = jsonify(
            {
                "region": {"code": board.region.code, "name": board.region.name, "level": board.region.level},
                "period": {
                    "key": period.key,
                    "start": period.start.isoformat() if period.start else None,
                    "end": period.end.isoformat() if period.end else None,
                },
                "total": _stat_row(board.total),
                "children": children,
                "services": [
                    {"code": r.key, "name": r.name, "requests": r.submitted, "done": r.done, "open": r.open}
                    for r in board.services
                ],
            }
        )
    return cacheable(response)


@bp.route("/v1/villages/<slug>/apbdes")
def v1_budget(slug: str):
    village = db.session.scalar(select(Village).where(Village.slug == slug, Village.active.is_(True)))
    if village is None:
        abort(404)
    labels = dict(BIDANG)
    stmt = (
        select(BudgetLine.year, BudgetLine.bidang, BudgetLine.planned, BudgetLine.realised)
        .where(BudgetLine.village_id == village.id)
        .order_by(BudgetLine.year.desc(), BudgetLine.bidang)
    )
    if request.args.get("year", type=int):
        stmt = stmt.where(BudgetLine.year == request.args.get("year", type=int))
    return _listing(
        stmt,
        lambda r: {
            "year": r.year,
            "bidang": r.bidang,
            "bidang_name": labels.get(r.bidang, r.bidang),
            "planned": r.planned,
            "realised": r.realised,
        },
        ["year", "bidang", "bidang_name", "planned", "realised"],
        f"apbdes-{slug}",
    )


@bp.route("/v1/products")
def v1_products():
    try:
        from app.models.bumdes import Bumdes, Product
    except ModuleNotFoundError:  # the marketplace is not installed: an empty catalogue
        return _listing(select(Village.id).where(Village.id < 0), dict, [], "products")
    stmt = (
        select(
            Product.id,
            Product.name,
            Product.price,
            Product.unit,
            Product.category,
            Product.available,
            Bumdes.name.label("bumdes"),
            Village.slug,
            Village.region_code,
        )
        .join(Bumdes, Bumdes.id == Product.bumdes_id)
        .join(Village, Village.id == Product.village_id)
        .where(Product.published.is_(True), Village.active.is_(True))
        .order_by(Product.id)
    )
    where = _region_where(Village.region_code)
    if where is not None:
        stmt = stmt.where(where)
    if request.args.get("category"):
        stmt = stmt.where(Product.category == request.args["category"])
    columns = ["id", "name", "price", "unit", "category", "available", "bumdes", "village", "region_code"]
    return _listing(
        stmt,
        lambda r: {
            "id": r.id,
            "name": r.name,
            "price": r.price,
            "unit": r.unit,
            "category": r.category,
            "available": r.available,
            "bumdes": r.bumdes,
            "village": r.slug,
            "region_code": r.region_code,
        },
        columns,
        "products",
    )


@bp.route("/v1/population/<code>")
def v1_population(code: str):
    """Population of a region or village, as published (small counts hidden)."""
    from app.stats import population

    pv = population.view(code, local_today())
    if pv is None:
        abort(404)
    totals = {
        "residents": pv.get("total"),
        "households": pv.get("households"),
        "male": pv.get("sex", "L"),
        "female": pv.get("sex", "P"),
        "aid_recipients": pv.get("aid_all"),
        "aid_programmes": pv.get("programmes"),
        "projects": pv.get("projects"),
        "apbdes_reports": pv.get("apbdes"),
    }
    children = [
        {
            "code": c.code,
            "name": c.name,
            **{
                name: c.figures.get(key, population.ZERO).as_json()
                for name, key in (
                    ("residents", "total"),
                    ("households", "households"),
                    ("male", "sex_L"),
                    ("female", "sex_P"),
                )
            },
        }
        for c in pv.children
    ]
    if request.args.get("format") == "csv":
        rows = [
            {
                "code": c["code"],
                "name": c["name"],
                **{k: _shown(c[k]) for k in ("residents", "households", "male", "female")},
            }
            for c in children
        ]
        rows.append(
            {
                "code": pv.region.code,
                "name": pv.region.name,
                **{k: totals[k].text for k in ("residents", "households", "male", "female")},
            }
        )
        return cacheable(
            csv_response(
                rows,
                ["code", "name", "residents", "households", "male", "female"],
                f"balai-population-{code}.csv",
            )
        )
    body = {
        "region": {"code": pv.region.code, "name": pv.region.name, "level": pv.region.level},
        "published_at": pv.published_at.isoformat() if pv.published_at else None,
        "sources": [
            {
                "source": s.source,
                "villages": s.villages,
                "oldest": s.oldest.isoformat() if s.oldest else None,
                "newest": s.newest.isoformat() if s.newest else None,
            }
            for s in pv.sources
        ],
        "totals": {name: f.as_json() for name, f in totals.items()},
        "age": [{"band": band, "male": m.as_json(), "female": f.as_json()} for band, m, f in pv.pyramid()],
        "distributions": {
            d: [{"key": k, "label": label, **f.as_json()} for k, label, f in pv.breakdown(d)]
            for d in ("education", "occupation", "religion", "marital", "aid")
        },
        "children": children,
        "freshness": {
            "stale_after_days": population.STALE_AFTER.days,
            "stale_count": pv.stale_count,
            "stale": [
                {"code": v.code, "name": v.name, "last_push": v.when.isoformat() if v.when else None}
                for v in pv.stale
            ],
            "missing_count": pv.missing_count,
            "missing": [{"code": v.code, "name": v.name} for v in pv.missing],
            "villages_not_on_balai": pv.not_on_balai,
        },
    }
    return cacheable(jsonify(body))


def _shown(count: dict) -> str:
    return count["suppressed"] if count["n"] is None else str(count["n"])
