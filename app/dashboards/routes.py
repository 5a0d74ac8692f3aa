"""Village profiles, region dashboards, Smart Village indicators and the operator's profile pages."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select

from app import attendance, events
from app.access import can_manage_region
from app.dashboards import bp, charts, indicators
from app.dashboards.forms import (
    AnnouncementForm,
    ApiKeyForm,
    CandidateFilterForm,
    IdmUploadForm,
    ProfileForm,
    ProjectForm,
)
from app.datacache import cached
from app.domain import states
from app.domain.errors import DomainError
from app.domain.photos import make_thumbnail, process_photo
from app.domain.storage import PhotoStore
from app.domain.text import format_rupiah
from app.exports import csv_download, csv_text, excel_csv_download, xlsx_download
from app.extensions import db
from app.i18n import coded, status_label, translated
from app.models import Region, Role, Village
from app.models.profile import (
    BIDANG,
    BIDANG_KEYS,
    IDM_LABELS,
    Announcement,
    ApiKey,
    BudgetLine,
    Project,
    ProjectPhoto,
    VillageProfile,
)
from app.pagecache import shared
from app.regions import names_of, with_ancestors
from app.stats import figures, population
from app.web import (
    active_village_or_404,
    render,
    render_shared,
    roles_required,
    send_stored_photo,
    shown_village_or_404,
    village_row_or_404,
)
from app.workflow import local_today

# --- public: the village's home ----------------------------------------------------------------


@bp.route("/desa/<slug>/")
@shared
def profile(slug: str):
    village = shown_village_or_404(slug)
    year = request.args.get("tahun", type=int)
    # Who is at the balai and whether it is open follow the clock: at most a minute old.
    minute = attendance.local(attendance.utcnow()).strftime("%Y-%m-%d %H:%M")
    return render_shared(
        "dashboards/profile.html",
        (village.id, year, minute),
        lambda: _profile_context(village, year),
        village=village,
    )


def _profile_context(village: Village, year: int | None) -> dict:
    profile = db.session.get(VillageProfile, village.id)
    today = local_today()
    names = names_of(with_ancestors([village.region.parent_code]))
    announcements = db.session.scalars(
        select(Announcement)
        .where(Announcement.village_id == village.id)
        .order_by(Announcement.published_at.desc(), Announcement.id.desc())
        .limit(3)
    ).all()
    projects = db.session.scalars(
        select(Project)
        .where(Project.village_id == village.id, Project.year >= today.year - 1)
        .order_by(Project.year.desc(), Project.id.desc())
        .limit(10)
    ).all()
    board = figures.dashboard(village.region_code, figures.period_for("12-bulan", today), today)
    return {
        "village": village,
        "profile": profile,
        "names": names,
        "announcements": announcements,
        "projects": projects,
        "budget": _budget(village, year),
        "board": board,
        "has_products": _has_rule("/desa/<slug>/produk"),
        "office": attendance.office_now(village.id),
        "status_chart": _status_chart(board.total) if board else None,
    }


def _has_rule(rule: str) -> bool:
    return any(r.rule == rule for r in current_app.url_map.iter_rules())


def _budget(village: Village, year: int | None) -> dict:
    years = list(
        db.session.scalars(
            select(BudgetLine.year)
            .where(BudgetLine.village_id == village.id)
            .group_by(BudgetLine.year)
            .order_by(BudgetLine.year.desc())
        )
    )
    if not years:
        return {"years": [], "year": None, "lines": [], "chart": None}
    year = year if year in years else years[0]
    found = {
        line.bidang: line
        for line in db.session.scalars(
            select(BudgetLine).where(BudgetLine.village_id == village.id, BudgetLine.year == year)
        )
    }
    lines = []
    for key, _msgid in BIDANG:
        line = found.get(key)
        planned, realised = (line.planned, line.realised) if line else (0, 0)
        share = round(100 * realised / planned) if planned else None
        lines.append(
            {
                "key": key,
                "label": coded(BIDANG, key),
                "planned": planned,
                "realised": realised,
                "share": share,
            }
        )
    total_p = sum(x["planned"] for x in lines)
    total_r = sum(x["realised"] for x in lines)
    chart = charts.paired(
        _("Rencana dan realisasi APBDes %(year)s", year=year),
        [
            (
                x["label"],
                x["planned"],
                x["realised"],
                _short_rupiah(x["planned"]),
                _short_rupiah(x["realised"]),
            )
            for x in lines
        ],
    )
    return {
        "years": years,
        "year": year,
        "lines": lines,
        "total_planned": total_p,
        "total_realised": total_r,
        "total_share": round(100 * total_r / total_p) if total_p else None,
        "chart": chart,
    }


def _short_rupiah(amount: int) -> str:
    if amount >= 1_000_000_000:
        return f"Rp{amount / 1_000_000_000:.1f} M".replace(".", ",")
    if amount >= 1_000_000:
        return f"Rp{amount / 1_000_000:.0f} jt"
    return format_rupiah(amount)


def _status_chart(row: figures.Row) -> charts.Chart:
    return charts.bars(
        _("Permohonan menurut status"),
        [(status_label(s), n, str(n), s) for s, n in figures.status_totals(row)],
    )


@bp.route("/desa/<slug>/pengumuman")
def announcements(slug: str):
    village = shown_village_or_404(slug)
    page = max(request.args.get("halaman", 1, type=int), 1)

    def context() -> dict:
        items = db.session.scalars(
            select(Announcement)
            .where(Announcement.village_id == village.id)
            .order_by(Announcement.published_at.desc(), Announcement.id.desc())
            .offset((page - 1) * 20)
            .limit(21)
        ).all()
        return {"village": village, "items": items[:20], "page": page, "more": len(items) > 20}

    return render_shared("dashboards/announcements.html", (village.id, page), context, village=village)


@bp.route("/desa/<slug>/pengumuman/<int:announcement_id>")
def announcement(slug: str, announcement_id: int):
    village = active_village_or_404(slug)
    item = village_row_or_404(Announcement, announcement_id, village)
    return render("dashboards/announcement.html", village=village, item=item)


@bp.route("/desa/<slug>/foto/<name>")
def project_photo(slug: str, name: str):
    village = active_village_or_404(slug)
    photo = db.session.scalar(
        select(ProjectPhoto)
        .join(Project, Project.id == ProjectPhoto.project_id)
        .where(
            Project.village_id == village.id,
            (ProjectPhoto.stored_name == name) | (ProjectPhoto.small_name == name),
        )
    )
    if photo is None:
        abort(404)
    return send_stored_photo(name, public=True)


# --- public: region dashboards -------------------------------------------------------------------


@bp.route("/wilayah/")
def regions():
    return render_shared("dashboards/regions.html", (), lambda: {"provinces": _provinces()})


def _provinces() -> list:
    # Count the villages per province first, then name the 38 provinces (joining each of 83,762
    # villages to its province by an expression cost a hash join over all of them). Built only
    # when the page is rendered anew: building the statement cost more than the kept page.
    province = func.substr(Village.region_code, 1, 2)
    counts = (
        select(province.label("code"), func.count().label("villages"))
        .where(Village.active.is_(True))
        .group_by(province)
        .subquery()
    )
    provinces = select(Region.code, Region.name, counts.c.villages).join(counts, counts.c.code == Region.code)
    return db.session.execute(provinces.where(Region.level == 1).order_by(Region.name)).all()


def _board_or_404(code: str) -> figures.Dashboard:
    today = local_today()
    board = figures.dashboard(code, figures.period_for(request.args.get("periode"), today), today)
    if board is None:
        abort(404)
    return board


@bp.route("/wilayah/<code>")
def region(code: str):
    may_rank = _may_rank(code) and code.count(".") <= 2  # province, kabupaten, kecamatan
    if may_rank:  # a region admin sees more than anyone: never from the cache
        context = _region_context(code, may_rank)
        return render("dashboards/region.html", fragment="dashboards/_region_table.html", **context)
    # The same for every other visitor with the same address, once per change of data and per day.
    key = (code, local_today(), tuple(sorted(request.args.items(multi=True))))
    name = cached(("region-name", code), lambda: names_of([code]).get(code))
    return render_shared(
        "dashboards/region.html",
        key,
        lambda: _region_context(code, may_rank),
        fragment="dashboards/_region_table.html",
        region_name=name,
    )


def _region_context(code: str, may_rank: bool) -> dict:
    board = _board_or_404(code)
    sort = request.args.get("urut", "name")
    sort = sort if sort in figures.SORT_KEYS else "name"
    descending = request.args.get("arah") == "turun"
    rows = figures.sort_rows(board.rows, sort, descending)
    service_chart = charts.bars(
        _("Permohonan menurut layanan"),
        [(r.name, r.submitted, str(r.submitted), "") for r in board.services[:8]],
    )
    return {
        "region_name": board.region.name,
        "pv": population.view(code, local_today(), summary=True),
        "source_labels": translated(population.SOURCE_LABELS),
        "board": board,
        "rows": rows,
        "sort": sort,
        "descending": descending,
        "periods": translated(figures.PERIODS),
        "child_label": coded(figures.CHILD_LABELS, board.region.level),
        "status_chart": _status_chart(board.total),
        "service_chart": service_chart,
        "may_rank": may_rank,
    }


def _may_rank(code: str) -> bool:
    user = current_user
    return (
        getattr(user, "is_authenticated", False)
        and user.role in (Role.REGION_ADMIN, Role.SUPERADMIN)
        and can_manage_region(user, code)
    )


def _region_table(board: figures.Dashboard, table: str) -> tuple[str, list[str], list[list]]:
    """A dashboard table as (title, column labels, rows), numbers kept as numbers, statuses as labels."""
    if table == "wilayah":
        header = [
            _("Kode"),
            _("Nama"),
            _("Desa aktif"),
            _("Permohonan"),
            _("Berjalan"),
            _("Selesai"),
            _("Ditolak"),
            _("Terlambat"),
            _("Median (hari)"),
            _("Tepat waktu (%)"),
            _("Produk"),
            _("Pesanan"),
        ]
        rows = [
            [
                r.key,
                r.name,
                r.active,
                r.submitted,
                r.open,
                r.done,
                r.rejected,
                r.overdue,
                None if r.median_days is None else round(float(r.median_days), 1),
                None if r.sla_share is None else round(100 * r.sla_share),
                r.products,
                r.orders,
            ]
            for r in [*board.rows, board.total]
        ]
        return _("Wilayah"), header, rows
    if table == "status":
        rows = [[status_label(s), n] for s, n in figures.status_totals(board.total)]
        return _("Status"), [_("Status"), _("Jumlah")], rows
    if table == "layanan":
        header = [
            _("Kode layanan"),
            _("Layanan"),
            _("Permohonan"),
            *(status_label(s) for s in states.STATUSES),
        ]
        rows = [
            [r.key, r.name, r.submitted, *(r.by_status.get(s, 0) for s in states.STATUSES)]
            for r in board.services
        ]
        return _("Layanan"), header, rows
    abort(404)


@bp.route("/wilayah/<code>/unduh/<table>.csv")
def region_csv(code: str, table: str):
    board = _board_or_404(code)
    _title, header, rows = _region_table(board, table)
    filename = f"balai-{code}-{table}-{board.period.key}.csv"
    return excel_csv_download(header, rows, filename, str(get_locale()))


@bp.route("/wilayah/<code>/unduh/<table>.xlsx")
def region_xlsx(code: str, table: str):
    board = _board_or_404(code)
    title, header, rows = _region_table(board, table)
    return xlsx_download(title, header, rows, f"balai-{code}-{table}-{board.period.key}.xlsx")


# --- Smart Village: candidate list for region admins ----------------------------------------


def _candidate_scope(code: str) -> Region:
    region = db.session.get(Region, code)
    if region is None or region.level > 3:
        abort(404)
    if current_user.role not in (Role.REGION_ADMIN, Role.SUPERADMIN):
        abort(403)
    if not can_manage_region(current_user, code):
        abort(404)
    return region


def _candidate_list(code: str):
    form = CandidateFilterForm(request.args)
    flt = indicators.CandidateFilter(
        min_idm=form.min_idm.data or None if form.min_idm.data in IDM_LABELS else None,
        needs_internet=bool(form.internet.data),
        needs_bumdes_products=bool(form.products.data),
        exclude_sites=not form.include_sites.data,
    )
    return form, indicators.candidates(code, flt, local_today())


@bp.route("/wilayah/<code>/calon-smart-village")
@login_required
def candidates(code: str):
    region = _candidate_scope(code)
    form, ranked = _candidate_list(code)
    names = names_of({s.village.region.parent_code for s in ranked})
    return render(
        "dashboards/candidates.html",
        fragment="dashboards/_candidates_table.html",
        region=region,
        form=form,
        ranked=ranked,
        names=names,
        pillars=translated(indicators.PILLARS).items(),
        idm_labels=translated(IDM_LABELS),
        upload=IdmUploadForm(),
        query=request.query_string.decode(),
        year=local_today().year + 1,
    )


@bp.route("/wilayah/<code>/calon-smart-village.csv")
@login_required
def candidates_csv(code: str):
    _candidate_scope(code)
    _form, ranked = _candidate_list(code)
    names = names_of({s.village.region.parent_code for s in ranked})
    header = [
        "peringkat",
        "kode_desa",
        "desa",
        "kecamatan",
        "status_idm",
        "skor_idm",
        *[k for k, _l in indicators.PILLARS],
        "skor",
    ]
    rows = (
        [
            i,
            s.village.region_code,
            s.village.display_name,
            names.get(s.village.region.parent_code, ""),
            s.idm_label,
            "" if s.idm_score is None else f"{s.idm_score:.4f}",
            *s.pillar_scores.values(),
            s.score,
        ]
        for i, s in enumerate(ranked, start=1)
    )
    return csv_download(csv_text(header, rows), f"calon-smart-village-{code}.csv", private=True)


@bp.route("/wilayah/<code>/idm", methods=["POST"])
@login_required
def idm_upload(code: str):
    region = _candidate_scope(code)
    form = IdmUploadForm()
    if form.validate_on_submit() and form.file.data:
        try:
            text = form.file.data.read().decode("utf-8-sig")
            result = indicators.import_idm(text, within=region.code)
        except UnicodeDecodeError:
            flash(_("Berkas harus teks CSV (UTF-8)."))
        except DomainError as err:
            db.session.rollback()
            flash(_(err.message, **err.params))
        else:
            db.session.commit()
            flash(
                _(
                    "IDM diimpor: %(added)s baru, %(updated)s diperbarui, %(skipped)s dilewati.",
                    **result,
                )
            )
    else:
        flash(_("Pilih berkas CSV dulu."))
    return redirect(url_for("dashboards.candidates", code=code))


# --- the operator's pages ----------------------------------------------------------------------

OFFICIALS = (Role.OPERATOR, Role.HEAD)


def _own_village() -> Village:
    village = current_user.village
    if village is None:
        abort(404)
    return village


@bp.route("/kelola-desa/")
@roles_required(*OFFICIALS)
def manage():
    return redirect(url_for("dashboards.edit_profile"))


@bp.route("/kelola-desa/profil", methods=["GET", "POST"])
@roles_required(*OFFICIALS)
def edit_profile():
    village = _own_village()
    profile = db.session.get(VillageProfile, village.id) or VillageProfile(
        village_id=village.id, officials=[]
    )
    form = ProfileForm(obj=profile)
    if request.method == "GET":
        form.officials.data = "\n".join(f"{o['position']}: {o['name']}" for o in profile.officials or [])
    if form.validate_on_submit():
        for name in (
            "description",
            "potential",
            "latitude",
            "longitude",
            "population",
            "households",
            "male",
            "female",
            "area_km2",
        ):
            value = getattr(form, name).data
            setattr(profile, name, value.strip() if isinstance(value, str) else value)
        # A post without the field leaves the form holding the stored list.
        data = form.officials.data
        profile.officials = _parse_officials(data) if isinstance(data, str) else (profile.officials or [])
        db.session.add(profile)
        # Typed population figures count in the region's figures when the village has no register.
        population.mark_dirty(village.region_code)
        population.publish_soon(village.region_code)
        db.session.commit()
        flash(_("Profil desa disimpan."))
        return redirect(url_for("dashboards.edit_profile"))
    return render(
        "dashboards/manage_profile.html", form=form, village=village, status=422 if form.errors else 200
    )


def _parse_officials(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        position, sep, name = line.partition(":")
        if sep and position.strip() and name.strip():
            out.append({"position": position.strip()[:80], "name": name.strip()[:120]})
    return out[:40]


@bp.route("/kelola-desa/pengumuman", methods=["GET", "POST"])
@roles_required(*OFFICIALS)
def manage_announcements():
    village = _own_village()
    form = AnnouncementForm()
    if form.validate_on_submit():
        item = Announcement(
            village_id=village.id,
            title=form.title.data.strip(),
            body=form.body.data.strip(),
            broadcast=bool(form.broadcast.data),
            created_by_id=current_user.id,
        )
        db.session.add(item)
        db.session.flush()
        if item.broadcast:
            events.emit(
                events.ANNOUNCEMENT_PUBLISHED,
                announcement_id=item.id,
                village_id=village.id,
                title=item.title,
                path=url_for("dashboards.announcement", slug=village.slug, announcement_id=item.id),
            )
        db.session.commit()
        flash(
            _("Pengumuman terbit.")
            + (" " + _("Pesan untuk pelanggan sedang dikirim.") if item.broadcast else "")
        )
        return redirect(url_for("dashboards.manage_announcements"))
    items = db.session.scalars(
        select(Announcement)
        .where(Announcement.village_id == village.id)
        .order_by(Announcement.published_at.desc(), Announcement.id.desc())
        .limit(50)
    ).all()
    return render(
        "dashboards/manage_announcements.html",
        form=form,
        items=items,
        village=village,
        status=422 if form.errors else 200,
    )


@bp.route("/kelola-desa/pengumuman/<int:announcement_id>/hapus", methods=["POST"])
@roles_required(*OFFICIALS)
def delete_announcement(announcement_id: int):
    village = _own_village()
    item = village_row_or_404(Announcement, announcement_id, village)
    db.session.delete(item)
    db.session.commit()
    flash(_("Pengumuman dihapus."))
    return redirect(url_for("dashboards.manage_announcements"))


@bp.route("/kelola-desa/proyek", methods=["GET", "POST"])
@roles_required(*OFFICIALS)
def manage_projects():
    village = _own_village()
    form = ProjectForm()
    if request.method == "GET":
        form.year.data = local_today().year
    if form.validate_on_submit():
        project = Project(village_id=village.id)
        if _save_project(project, form):
            flash(_("Kegiatan pembangunan disimpan."))
            return redirect(url_for("dashboards.manage_projects"))
    projects = db.session.scalars(
        select(Project)
        .where(Project.village_id == village.id)
        .order_by(Project.year.desc(), Project.id.desc())
    ).all()
    return render(
        "dashboards/manage_projects.html",
        form=form,
        projects=projects,
        village=village,
        status=422 if form.errors else 200,
    )


@bp.route("/kelola-desa/proyek/<int:project_id>", methods=["GET", "POST"])
@roles_required(*OFFICIALS)
def edit_project(project_id: int):
    village = _own_village()
    project = village_row_or_404(Project, project_id, village)
    form = ProjectForm(obj=project)
    if form.validate_on_submit() and _save_project(project, form):
        flash(_("Kegiatan pembangunan diperbarui."))
        return redirect(url_for("dashboards.edit_project", project_id=project.id))
    return render(
        "dashboards/manage_project.html",
        form=form,
        project=project,
        village=village,
        status=422 if form.errors else 200,
    )


def _save_project(project: Project, form: ProjectForm) -> bool:
    """Copy the form into ``project`` and store an uploaded photo; False with a form error if it fails."""
    upload = form.photo.data
    photo = None
    if upload and getattr(upload, "filename", ""):
        try:
            photo = process_photo(
                upload.read(),
                filename=upload.filename,
                declared_type=upload.mimetype,
                max_bytes=current_app.config["MAX_PHOTO_BYTES"],
            )
        except DomainError as err:
            form.photo.errors = [*form.photo.errors, _(err.message, **err.params)]
            return False
    project.name = form.name.data.strip()
    project.year = form.year.data
    project.budget = form.budget.data or 0
    project.source = form.source.data
    project.location = (form.location.data or "").strip()
    project.description = (form.description.data or "").strip()
    project.progress = form.progress.data or 0
    db.session.add(project)
    db.session.flush()
    if photo is not None:
        store = PhotoStore(current_app.config["UPLOAD_DIR"])
        small = make_thumbnail(photo.data, 320)
        full_name = store.save(photo.data, photo.ext)
        small_name = store.save(small.data, small.ext)
        db.session.add(
            ProjectPhoto(
                project_id=project.id,
                stored_name=full_name,
                small_name=small_name,
                width=photo.width,
                height=photo.height,
            )
        )
    db.session.commit()
    return True


@bp.route("/kelola-desa/apbdes", methods=["GET", "POST"])
@roles_required(*OFFICIALS)
def manage_budget():
    village = _own_village()
    this_year = local_today().year
    year = request.values.get("tahun", this_year, type=int)
    if not 2000 <= year <= this_year + 1:
        year = this_year
    lines = {
        line.bidang: line
        for line in db.session.scalars(
            select(BudgetLine).where(BudgetLine.village_id == village.id, BudgetLine.year == year)
        )
    }
    errors: dict[str, str] = {}
    values: dict[str, tuple[str, str]] = {}
    if request.method == "POST":
        from app.domain.text import parse_rupiah

        parsed = {}
        for key in BIDANG_KEYS:
            raw = (request.form.get(f"{key}-planned", ""), request.form.get(f"{key}-realised", ""))
            values[key] = raw
            try:
                parsed[key] = tuple(parse_rupiah(v, allow_zero=True) if v.strip() else 0 for v in raw)
            except DomainError as err:
                errors[key] = _(err.message, **err.params)
        if not errors:
            for key, (planned, realised) in parsed.items():
                line = lines.get(key) or BudgetLine(village_id=village.id, year=year, bidang=key)
                line.planned, line.realised = planned, realised
                db.session.add(line)
            db.session.commit()
            flash(_("APBDes %(year)s disimpan.", year=year))
            return redirect(url_for("dashboards.manage_budget", tahun=year))
    for key in BIDANG_KEYS:
        if key not in values:
            line = lines.get(key)
            values[key] = (str(line.planned), str(line.realised)) if line else ("", "")
    return render(
        "dashboards/manage_budget.html",
        village=village,
        year=year,
        years=range(this_year + 1, this_year - 6, -1),
        bidang=translated(BIDANG).items(),
        values=values,
        errors=errors,
        status=422 if errors else 200,
    )


@bp.route("/kelola-desa/indikator", methods=["GET", "POST"])
@roles_required(*OFFICIALS)
def manage_indicators():
    village = _own_village()
    if request.method == "POST":
        indicators.save_answers(
            village, {key: request.form.get(key) == "ya" for key in indicators.OPERATOR_KEYS}
        )
        db.session.commit()
        flash(_("Indikator desa cerdas disimpan."))
        return redirect(url_for("dashboards.manage_indicators"))
    score = indicators.scores_for([village], local_today())[0]
    return render(
        "dashboards/manage_indicators.html",
        village=village,
        score=score,
        pillars=translated(indicators.PILLARS).items(),
        items=indicators.INDICATORS,
        labels=translated(indicators.INDICATOR_LABELS),
    )


@bp.route("/kelola-desa/api", methods=["GET", "POST"])
@roles_required(*OFFICIALS)
def manage_api_keys():
    from app.stats.keys import issue_key

    village = _own_village()
    form = ApiKeyForm()
    new_key = None
    if form.validate_on_submit():
        new_key = issue_key(village, form.name.data.strip(), created_by=current_user)
        db.session.commit()
        form = ApiKeyForm(formdata=None)
    keys = db.session.scalars(
        select(ApiKey).where(ApiKey.village_id == village.id).order_by(ApiKey.id.desc())
    ).all()
    return render(
        "dashboards/manage_api.html",
        form=form,
        keys=keys,
        village=village,
        new_key=new_key,
        status=422 if form.errors else 200,
    )


@bp.route("/kelola-desa/api/<int:key_id>/cabut", methods=["POST"])
@roles_required(*OFFICIALS)
def revoke_api_key(key_id: int):
    from app.stats.keys import revoke_key

    village = _own_village()
    key = village_row_or_404(ApiKey, key_id, village)
    revoke_key(key)
    db.session.commit()
    flash(_("Kunci API dicabut."))
    return redirect(url_for("dashboards.manage_api_keys"))
