"""Population registers for the benches, built on PostgreSQL with set-based SQL (no Python loop per
resident): the population bench (Lampung, ~3,000 residents a village) and the national bench (all
83,762 villages, ~10 million residents) share it.

Each village gets a kind (most push from OpenSID, a few are stale, imported, typed into the profile
or have nothing yet), a register of plausible residents drawn with random() (OpenSID's codes,
weighted as villages are), then the aggregates counted from those rows with GROUP BY the way
``app.population.register.stats_of`` counts them, and the source row a push leaves. ``check``
compares a sample of villages' aggregates with ``stats_of`` over their stored rows.
"""

from __future__ import annotations

from datetime import date

from app.population import register

AS_OF = date(2026, 12, 1)
# (kind, share in per cent): how villages keep their figures.
KINDS = (("opendk", 80), ("stale", 8), ("import", 5), ("typed", 5), ("none", 2))
OCCUPATIONS = (9, 9, 9, 2, 2, 3, 3, 1, 1, 88, 88, 19, 20, 84, 15, 5, 65, 11, 89)


def _pick(column: str, weights: tuple[tuple[object, int], ...]) -> str:
    """A CASE choosing one value by weight from ``column``, a random() drawn for the row."""
    total = sum(w for _, w in weights)
    whens, upto = [], 0
    for value, weight in weights[:-1]:
        upto += weight
        whens.append(f"WHEN {column} < {upto / total} THEN {value!r}")
    return f"CASE {' '.join(whens)} ELSE {weights[-1][0]!r} END"


PLAN_SQL = """
CREATE UNLOGGED TABLE bench_population AS
SELECT village_id, region_code, {kind} AS kind,
       greatest(%(minimum)s, round(%(mean)s * (1 + 0.3 * sqrt(-2 * ln(1 - r1)) * cos(2 * pi() * r2))))::int
           AS size
FROM (SELECT v.id AS village_id, v.region_code, random() AS r_kind, random() AS r1, random() AS r2
      FROM villages v WHERE v.region_code LIKE %(pattern)s AND v.active) v
"""

# One row per resident of the villages that keep a register. NIK and KK: the village's ten digits
# and a six-digit number (four people to a family card), unique within the village.
RESIDENTS_SQL = """
INSERT INTO residents (village_id, nik, kk, name, sex, birth_place, birth_date, religion, education,
    occupation, marital, relation, citizenship, dusun, rw, rt, address, status, external_id, source)
SELECT p.village_id,
       replace(p.region_code, '.', '') || lpad(i::text, 6, '0'),
       replace(p.region_code, '.', '') || lpad((i / 4)::text, 6, '0'),
       'WARGA ' || i,
       1 + (random() < 0.5)::int,
       (ARRAY['PESAWARAN', 'LAMPUNG BARAT', 'METRO', 'BANDAR LAMPUNG'])[1 + floor(random() * 4)::int],
       DATE '1930-01-01' + floor(random() * 35000)::int,
       {religion},
       1 + floor(random() * 10)::int,
       (%(occupations)s::int[])[1 + floor(random() * %(n_occupations)s)::int],
       {marital},
       (ARRAY[1, 3, 4, 4, 4])[1 + floor(random() * 5)::int],
       1,
       'Dusun ' || (1 + floor(random() * 6)::int),
       lpad((1 + floor(random() * 5))::text, 3, '0'),
       lpad((1 + floor(random() * 9))::text, 3, '0'),
       'Jl. Desa',
       {status},
       i::text,
       CASE WHEN p.kind = 'import' THEN 'import' ELSE 'opendk' END
FROM (SELECT p.*, i, random() AS r_religion, random() AS r_marital, random() AS r_status
      FROM bench_population p CROSS JOIN LATERAL generate_series(1, p.size) AS i
      WHERE p.kind IN ('opendk', 'stale', 'import')) p
"""

# register.stats_of in SQL: living residents only; sex "L"/"P"/""; age band on AS_OF plus the sex.
STATS_SQL = """
INSERT INTO population_stats (village_id, dimension, key, n)
SELECT village_id, d.dimension, d.key, count(*)
FROM (
    SELECT r.*,
           CASE r.sex WHEN 1 THEN 'L' WHEN 2 THEN 'P' ELSE '' END AS sex_key,
           CASE WHEN r.birth_date IS NULL OR r.birth_date > %(as_of)s::date THEN '??'
                ELSE lpad(least(extract(year FROM age(%(as_of)s::date, r.birth_date))::int / 5 * 5,
                                80)::text, 2, '0') END AS band
    FROM residents r JOIN bench_population p ON p.village_id = r.village_id
    WHERE r.status = 1
) r
CROSS JOIN LATERAL (VALUES ('total', ''), ('sex', sex_key), ('age', band || sex_key),
                           {partitions}) AS d(dimension, key)
GROUP BY 1, 2, 3
UNION ALL
SELECT r.village_id, 'households', '', count(DISTINCT r.kk)
FROM residents r JOIN bench_population p ON p.village_id = r.village_id
WHERE r.status = 1 AND r.kk IS NOT NULL
GROUP BY 1
"""

SOURCES_SQL = """
INSERT INTO population_sources (village_id, source, as_of, pushed_at, residents, households,
                                content_digest)
SELECT p.village_id, CASE WHEN p.kind = 'import' THEN 'import' ELSE 'opendk' END, %(as_of)s,
       now() - CASE WHEN p.kind = 'stale' THEN interval '40 days'
                    ELSE floor(random() * 7) * interval '1 day' END,
       coalesce(t.n, 0), coalesce(h.n, 0), ''
FROM bench_population p
LEFT JOIN population_stats t ON t.village_id = p.village_id AND t.dimension = 'total'
LEFT JOIN population_stats h ON h.village_id = p.village_id AND h.dimension = 'households'
WHERE p.kind IN ('opendk', 'stale', 'import')
"""

TYPED_SQL = """
INSERT INTO village_profiles (village_id, population, households, male, female, description,
                              potential, officials, updated_at)
SELECT village_id, size, size / 4, size / 2, size - size / 2, '', '', '[]', now()
FROM bench_population WHERE kind = 'typed'
"""


def build(conn, province: str | None, mean: float, minimum: int = 1, seed: float = 0.2651) -> dict:
    """Registers for the active villages of ``province`` (all when None), ``mean`` residents each.

    ``conn`` is a psycopg connection in autocommit mode. Returns what was built.
    """
    conn.execute("SELECT setseed(%s)", (seed,))
    conn.execute("DROP TABLE IF EXISTS bench_population")
    conn.execute(
        PLAN_SQL.format(kind=_pick("r_kind", KINDS)),
        {"pattern": f"{province}.%" if province else "%", "mean": mean, "minimum": minimum},
    )
    conn.execute("ANALYZE bench_population")
    conn.execute(
        RESIDENTS_SQL.format(
            religion=_pick("r_religion", ((1, 88), (2, 5), (3, 3), (4, 3), (5, 1))),
            marital=_pick("r_marital", ((1, 45), (2, 45), (3, 4), (4, 6))),
            status=_pick("r_status", ((1, 95), (2, 3), (3, 2))),
        ),
        {"occupations": list(OCCUPATIONS), "n_occupations": len(OCCUPATIONS)},
    )
    conn.execute("ANALYZE residents")
    partitions = ", ".join(
        f"('{d}', coalesce(r.{d}::text, ''))" for d in register.PARTITIONS
    )  # the dimensions stats_of splits every living resident by
    conn.execute(STATS_SQL.format(partitions=partitions), {"as_of": AS_OF})
    conn.execute(SOURCES_SQL, {"as_of": AS_OF})
    conn.execute(TYPED_SQL)
    conn.execute("ANALYZE population_stats")
    facts = {
        "villages_by_kind": dict(
            conn.execute("SELECT kind, count(*) FROM bench_population GROUP BY 1 ORDER BY 1").fetchall()
        ),
        "residents_rows": conn.execute("SELECT count(*) FROM residents").fetchone()[0],
        "living_residents": conn.execute(
            "SELECT coalesce(sum(n), 0) FROM population_stats WHERE dimension = 'total'"
        ).fetchone()[0],
        "population_stats_rows": conn.execute("SELECT count(*) FROM population_stats").fetchone()[0],
    }
    conn.execute("DROP TABLE bench_population")
    return facts


def check(sample: int = 20) -> int:
    """Compare ``sample`` villages' aggregates with register.stats_of over their rows (app context)."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models.population import PopulationSource, Resident

    villages = db.session.scalars(
        select(PopulationSource.village_id).order_by(func.random()).limit(sample)
    ).all()
    for village_id in villages:
        rows = db.session.scalars(select(Resident).where(Resident.village_id == village_id)).all()
        expected = {k: n for k, n in register.stats_of(rows, AS_OF).items() if n}
        if register.village_stats(village_id) != expected:
            raise SystemExit(f"village {village_id}: SQL aggregates differ from register.stats_of")
    db.session.rollback()
    return len(villages)


def publish(provinces: list[str]) -> float:
    """Publish each province as the job does (sums up the tree, small-cell suppression); seconds."""
    import time

    from app.stats import population

    started = time.perf_counter()
    for province in provinces:
        population.publish(province)
    return time.perf_counter() - started
