"""Demography that rolls up: /wilayah/<code> at every level, CSV/XLSX, the JSON API; small-cell
suppression that no total undoes; sources, dates, stale and missing villages; no page reads residents."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import event, func, select

from app.domain.opensid import ResidentRecord
from app.domain.suppression import COMPLEMENT, SHOWN, SMALL, exposed, shown, suppress
from app.extensions import db
from app.models import Region, Village, utcnow
from app.models.population import PopulationSource, PublishedStat
from app.models.profile import VillageProfile
from app.population import register
from app.stats import population
from tests import opendk_support as sup

# --- the suppression rule itself ------------------------------------------------------------------


def test_counts_from_one_to_four_are_hidden_and_a_lone_one_gets_a_complement():
    values = {"total": 10, "islam": 9, "kristen": 1}
    marks = suppress(values, [("total", ["islam", "kristen"])])
    assert marks == {"total": SHOWN, "islam": COMPLEMENT, "kristen": SMALL}
    assert [shown(values[c], marks[c]) for c in ("total", "islam", "kristen")] == ["10", "×", "<5"]


def test_a_small_total_hides_itself_and_nothing_else_is_needed():
    values = {"total": 3, "l": 3}
    assert suppress(values, [("total", ["l", "p"])]) == {"total": SMALL, "l": SMALL}


def test_the_complement_spreads_across_levels_until_no_sum_gives_a_small_count_back():
    # kecamatan K with villages A (6 farmers of 10) and B (1 farmer of 8)
    values = {
        ("K", "t"): 18,
        ("K", "farm"): 7,
        ("K", "other"): 11,
        ("A", "t"): 10,
        ("A", "farm"): 6,
        ("A", "other"): 4,
        ("B", "t"): 8,
        ("B", "farm"): 1,
        ("B", "other"): 7,
    }
    equations = [
        (("K", "t"), [("K", "farm"), ("K", "other")]),
        (("A", "t"), [("A", "farm"), ("A", "other")]),
        (("B", "t"), [("B", "farm"), ("B", "other")]),
        (("K", "t"), [("A", "t"), ("B", "t")]),
        (("K", "farm"), [("A", "farm"), ("B", "farm")]),
        (("K", "other"), [("A", "other"), ("B", "other")]),
    ]
    marks = suppress(values, equations)
    assert marks["B", "farm"] == SMALL and marks["A", "other"] == SMALL
    assert exposed(values, equations, marks) == []


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.integers(0, 12), min_size=3, max_size=3), min_size=1, max_size=5))
def test_no_equation_is_ever_left_with_a_single_hidden_count(villages):
    """Random kecamatan of villages x 3 categories: every small count hidden, none recoverable alone."""
    values, equations = {}, []
    for v, counts in enumerate(villages):
        for c, n in enumerate(counts):
            values[v, c] = n
        values[v, "t"] = sum(counts)
        equations.append(((v, "t"), [(v, c) for c in range(3)]))
    for c in range(3):
        values["K", c] = sum(counts[c] for counts in villages)
        equations.append((("K", c), [(v, c) for v in range(len(villages))]))
    values["K", "t"] = sum(values["K", c] for c in range(3))
    equations.append((("K", "t"), [("K", c) for c in range(3)]))
    equations.append((("K", "t"), [(v, "t") for v in range(len(villages))]))
    marks = suppress(values, equations)
    assert all(marks[cell] != SHOWN for cell, n in values.items() if 0 < n < 5)
    assert exposed(values, equations, marks) == []


# --- the pages ------------------------------------------------------------------------------------


def _village(slug: str) -> Village:
    return db.session.scalar(select(Village).where(Village.slug == slug))


@pytest.fixture
def hanura(demo):
    village = _village("hanura")
    sup.load_captured_register(village)
    db.session.commit()
    population.publish("18")
    return village


def _typed_total() -> int:
    """People typed into the profiles of villages that keep no register."""
    with_register = set(db.session.scalars(select(PopulationSource.village_id)))
    return sum(
        p.population
        for p in db.session.scalars(select(VillageProfile).where(VillageProfile.population.is_not(None)))
        if p.village_id not in with_register
    )


def _text(response) -> str:
    return response.get_data(as_text=True)


def test_every_level_shows_population_with_its_source_and_date(client, hanura):
    typed = _typed_total()
    for code in ("18", "18.09", "18.09.10", "18.09.10.2004"):
        page = _text(client.get(f"/wilayah/{code}"))
        total = 21 + typed if code == "18" else 21  # the demo's Lampung Barat pekon typed their figures
        assert 'id="penduduk"' in page and f"<b>{total}</b>penduduk" in page, code
        assert "Sinkronisasi OpenSID (1 desa, data per 3 Desember 2026)" in page, code
        full = client.get(f"/wilayah/{code}/penduduk")
        assert full.status_code == 200
        text = _text(full)
        for heading in ("Piramida umur", "Pendidikan (dalam KK)", "Pekerjaan", "Agama", "Status perkawinan"):
            assert heading in text, (code, heading)
    assert "Diketik di profil desa (4 desa" in _text(client.get("/wilayah/18"))
    kecamatan = _text(client.get("/wilayah/18.09.10/penduduk"))
    assert "Hanura" in kecamatan and "Desa yang datanya lama atau belum ada" in kecamatan


def test_small_counts_read_less_than_five_on_pages_csv_xlsx_and_the_api(client, hanura):
    page = _text(client.get("/wilayah/18.09.10/penduduk"))
    # One Christian, one Catholic, one Hindu, one Buddhist, one Confucian in Hanura.
    assert 'KRISTEN</th><td class="num">&lt;5' in page and 'ISLAM</th><td class="num">16' in page
    rows = list(csv.reader(io.StringIO(_text(client.get("/wilayah/18.09.10/penduduk.csv?tabel=rincian")))))
    religion = {r[2]: r[3] for r in rows if r[0] == "religion"}
    assert religion["KRISTEN"] == "<5" and religion["ISLAM"] == "16"
    assert all(value not in {"1", "2", "3", "4"} for *_rest, value in rows)
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(client.get("/wilayah/18.09.10/penduduk.xlsx").get_data()), read_only=True)
    # Counts of people and documents (the "sumber" sheet counts villages on Balai, a public list).
    cells = [c for row in book["wilayah"].iter_rows(values_only=True) for c in row[2:]]
    cells += [row[-1] for row in book["rincian"].iter_rows(values_only=True)]
    assert "<5" in cells and not any(c in {"1", "2", "3", "4"} for c in cells)
    api = client.get("/api/v1/population/18.09.10").get_json()
    by_label = {d["label"]: d for d in api["distributions"]["religion"]}
    assert by_label["KRISTEN"] == {"key": "2", "label": "KRISTEN", "n": None, "suppressed": "<5"}
    assert api["totals"]["residents"] == {"n": 21, "suppressed": None}
    assert api["totals"]["households"] == {"n": None, "suppressed": "<5"}  # 2 families
    assert api["sources"][0]["source"] == "opendk" and api["sources"][0]["newest"] == "2026-12-03"
    rows = list(csv.DictReader(io.StringIO(_text(client.get("/api/v1/population/18.09.10?format=csv")))))
    assert rows[-1]["residents"] == "21" and rows[-1]["households"] == "<5"


def _records(counts: dict[int, int], prefix: str) -> list[ResidentRecord]:
    """Residents with the given occupation codes (count each), all of one family per 3 people."""
    out, n = [], 0
    for occupation, count in counts.items():
        for _ in range(count):
            n += 1
            nik = f"18{prefix}{n:010d}"[:16]
            out.append(
                ResidentRecord(
                    nik=nik, kk=nik[:12] + "0001", name=f"W{n}", sex=1 + n % 2, occupation=occupation
                )
            )
    return out


def test_a_total_never_gives_a_hidden_count_back_across_villages_and_regions(client, demo):
    hanura, other = _village("hanura"), None
    from app.tenancy import activate_village

    other = activate_village("18.09.10.2005", slug="desa-tetangga")
    register.replace(hanura, _records({9: 6, 1: 4}, "0910"), source="opendk", as_of=date(2026, 12, 3))
    register.replace(other, _records({9: 1, 1: 7}, "0911"), source="import", as_of=date(2026, 12, 3))
    db.session.commit()
    population.publish("18")
    people, _docs, _codes = population.province_values("18")
    marks = {(r.region_code, r.dimension, r.key): r.mark for r in db.session.scalars(select(PublishedStat))}
    assert exposed(people, population.equations(people), marks) == []
    # The neighbour's single farmer is "<5"; the kecamatan's 7 farmers stay, so Hanura's 6 are hidden too.
    assert marks["18.09.10.2005", "occupation", "9"] == SMALL
    assert marks["18.09.10.2004", "occupation", "9"] == COMPLEMENT
    page = _text(client.get("/wilayah/18.09.10.2004/penduduk"))
    assert 'PETANI/PEKEBUN</th><td class="num">×' in page
    assert "Impor berkas (1 desa" in _text(client.get("/wilayah/18.09.10/penduduk"))


def test_stale_missing_and_typed_villages_are_listed_with_where_each_figure_comes_from(client, hanura):
    source = db.session.get(PopulationSource, hanura.id)
    source.pushed_at = utcnow() - timedelta(days=40)
    trimulyo = _village("trimulyo")
    db.session.merge(
        VillageProfile(
            village_id=trimulyo.id, population=1234, households=300, male=600, female=634, officials=[]
        )
    )
    db.session.commit()
    population.publish("18")
    province = _text(client.get("/wilayah/18/penduduk"))
    assert "1 desa tidak mengirim 30 hari terakhir" in province and "Hanura" in province
    assert "Diketik di profil desa (4 desa" in province
    assert "desa Balai belum pernah mengirim data penduduk" in province and "Trimulyo" in province
    assert f"<b>{21 + _typed_total()}</b>penduduk" in province  # the register's 21 + the typed figures
    api = client.get("/api/v1/population/18").get_json()
    assert api["freshness"]["stale"][0]["name"] == "Hanura" and api["freshness"]["stale_count"] == 1
    assert {s["source"] for s in api["sources"]} == {"opendk", "typed"}
    assert api["freshness"]["villages_not_on_balai"] > 2000


def test_region_pages_read_published_rows_never_the_register(client, hanura):
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        for path in (
            "/wilayah/18",
            "/wilayah/18/penduduk",
            "/api/v1/population/18",
            "/wilayah/18/penduduk.csv",
        ):
            assert client.get(path).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert statements and not any(re.search(r"\b(FROM|JOIN)\s+residents\b", s) for s in statements)


def test_a_typed_profile_counts_at_once_where_there_is_no_register(client, auth, demo):
    auth.login("operator.trimulyo@balai.test")
    form = auth.client.get("/kelola-desa/profil")
    assert form.status_code == 200
    answer = auth.post(
        "/kelola-desa/profil",
        {"description": "", "population": "500", "households": "120", "male": "250", "female": "250"},
        form_page="/kelola-desa/profil",
    )
    assert answer.status_code in (302, 303)
    api = client.get("/api/v1/population/18.04.15.2004").get_json()
    assert api["totals"]["residents"]["n"] == 500 and api["sources"][0]["source"] == "typed"


@pytest.mark.browser
def test_the_population_page_fits_a_360_px_phone_and_needs_no_javascript(live_server, _chromium, hanura):
    context = _chromium.new_context(viewport={"width": 360, "height": 740}, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(live_server + "/wilayah/18.09/penduduk")
        assert "Piramida umur" in page.content()
        widths = page.locator("body").bounding_box()
        assert widths["width"] <= 360
    finally:
        context.close()


def test_sources_stale_and_missing_counts_agree_with_each_village_looked_at_alone(client, hanura):
    """The region's freshness (one pass over its villages) against every village counted one by one."""
    trimulyo = _village("trimulyo")
    register.replace(trimulyo, _records({9: 6, 1: 2}, "0911"), source="import", as_of=date(2026, 11, 2))
    db.session.get(PopulationSource, hanura.id).pushed_at = utcnow() - timedelta(days=40)
    others = db.session.scalars(
        select(Village).where(Village.region_code.like("18.%"), Village.id.not_in([hanura.id, trimulyo.id]))
    ).all()
    register.replace(others[0], _records({9: 7}, "0912"), source="opendk", as_of=date(2026, 12, 1))
    others[0].active = False  # a village that left Balai counts nowhere, whatever it has
    db.session.commit()

    pv = population.view("18", date(2026, 12, 3))
    stale_before = utcnow() - population.STALE_AFTER
    sources = {s.village_id: s for s in db.session.scalars(select(PopulationSource))}
    profiles = {p.village_id: p for p in db.session.scalars(select(VillageProfile))}
    active = db.session.scalars(select(Village).where(Village.region_code.like("18.%"), Village.active)).all()
    expected: dict = {}
    for village in active:
        source, profile = sources.get(village.id), profiles.get(village.id)
        if source is not None:
            key, residents, day = source.source, source.residents, source.as_of
        elif profile is not None and profile.population is not None:
            key, residents, day = "typed", profile.population, profile.updated_at.date()
        else:
            continue
        n, total, days = expected.get(key, (0, 0, []))
        expected[key] = (n + 1, total + residents, [*days, day])
    assert {(s.source, s.villages, s.residents, s.newest, s.oldest) for s in pv.sources} == {
        (key, n, total, max(days), min(days)) for key, (n, total, days) in expected.items()
    }
    assert {"opendk", "import", "typed"} <= {s.source for s in pv.sources}
    assert pv.stale_count == sum(
        1 for v in active if v.id in sources and sources[v.id].pushed_at < stale_before
    )
    assert pv.stale_count >= 1 and [r.name for r in pv.stale] == ["Hanura"]
    assert pv.missing_count == sum(1 for v in active if v.id not in sources)
    assert {r.code for r in pv.missing} == {v.region_code for v in active if v.id not in sources}
    villages_in_18 = db.session.scalar(
        select(func.count()).select_from(Region).where(Region.level == 4, Region.code.like("18.%"))
    )
    assert pv.not_on_balai == villages_in_18 - len(active)
    # The region dashboard's summary: the same figures, sources and counts, nothing it does not show.
    brief = population.view("18", date(2026, 12, 3), summary=True)
    assert (brief.cells, brief.sources, brief.stale_count, brief.missing_count) == (
        pv.cells,
        pv.sources,
        pv.stale_count,
        pv.missing_count,
    )
    assert brief.children == [] and brief.stale == [] and brief.missing == [] and pv.children
