"""The OpenAPI 3.1 document of every /api route (a test checks it matches the URL map)."""

from __future__ import annotations

from functools import cache

from app.domain import states

FMT = {
    "name": "fmt",
    "in": "path",
    "required": True,
    "description": "json atau xml",
    "schema": {"type": "string", "enum": ["json", "xml"]},
}
JURISDICTION = {
    "name": "jurisdiction_id",
    "in": "query",
    "required": True,
    "description": "Kode wilayah desa, mis. 18.09.10.2004",
    "schema": {"type": "string"},
}
PAGING = [
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
    {
        "name": "per_page",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
    },
    {
        "name": "format",
        "in": "query",
        "schema": {"type": "string", "enum": ["json", "csv"], "default": "json"},
    },
]
REGION_FILTER = {
    "name": "region",
    "in": "query",
    "description": "Kode wilayah: hanya desa di bawahnya (mis. 18.04)",
    "schema": {"type": "string"},
}
PERIOD = {
    "name": "period",
    "in": "query",
    "schema": {
        "type": "string",
        "enum": ["bulan-ini", "3-bulan", "12-bulan", "tahun-ini", "tahun-lalu", "semua"],
    },
}


def _list_of(ref: str) -> dict:
    return {
        "type": "object",
        "properties": {
            "data": {"type": "array", "items": {"$ref": f"#/components/schemas/{ref}"}},
            "meta": {"$ref": "#/components/schemas/Meta"},
            "links": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    }


def _ok(description: str, schema: dict, csv: bool = False, xml: bool = False) -> dict:
    content = {"application/json": {"schema": schema}}
    if csv:
        content["text/csv"] = {"schema": {"type": "string"}}
    if xml:
        content["text/xml"] = {"schema": {"type": "string"}}
    return {"200": {"description": description, "content": content}}


ERRORS_311 = {
    code: {
        "description": text,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Open311Errors"}}},
    }
    for code, text in (("400", "Permintaan tidak lengkap"), ("404", "Tidak ditemukan"))
}


def _get(summary: str, parameters: list, responses: dict, tag: str) -> dict:
    return {"get": {"summary": summary, "tags": [tag], "parameters": parameters, "responses": responses}}


@cache
def openapi_document() -> dict:
    """The document as a dict; built once per process."""
    s = "#/components/schemas/"
    paths = {
        "/api/": {
            "get": {
                "summary": "Halaman daftar endpoint untuk manusia",
                "tags": ["dokumentasi"],
                "responses": {
                    "200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}
                },
            }
        },
        "/api/openapi.json": _get(
            "Dokumen OpenAPI ini", [], _ok("OpenAPI 3.1", {"type": "object"}), "dokumentasi"
        ),
        "/api/v1/regions": _get(
            "Wilayah (provinsi bila parent kosong)",
            [{"name": "parent", "in": "query", "schema": {"type": "string"}}, *PAGING],
            _ok("Daftar wilayah", _list_of("Region"), csv=True),
            "data terbuka",
        ),
        "/api/v1/villages": _get(
            "Desa yang memakai Balai",
            [REGION_FILTER, *PAGING],
            _ok("Daftar desa", _list_of("Village"), csv=True),
            "data terbuka",
        ),
        "/api/v1/villages/{slug}/apbdes": _get(
            "APBDes desa per tahun dan bidang",
            [
                {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "year", "in": "query", "schema": {"type": "integer"}},
                *PAGING,
            ],
            _ok("Baris APBDes", _list_of("BudgetLine"), csv=True),
            "data terbuka",
        ),
        "/api/v1/services": _get(
            "Layanan desa",
            [REGION_FILTER, {"name": "village", "in": "query", "schema": {"type": "string"}}, *PAGING],
            _ok("Daftar layanan", _list_of("Service"), csv=True),
            "data terbuka",
        ),
        "/api/v1/stats/{code}": _get(
            "Statistik gabungan wilayah atau desa, dirinci per wilayah di bawahnya",
            [
                {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}},
                PERIOD,
                {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "csv"]}},
            ],
            _ok("Statistik", {"$ref": s + "Stats"}, csv=True),
            "data terbuka",
        ),
        "/api/v1/population/{code}": _get(
            "Penduduk wilayah atau desa (angka gabungan; 1-4 disembunyikan sebagai <5)",
            [
                {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "csv"]}},
            ],
            _ok("Penduduk", {"$ref": s + "Population"}, csv=True),
            "data terbuka",
        ),
        "/api/v1/products": _get(
            "Produk BUMDes yang terbit",
            [REGION_FILTER, {"name": "category", "in": "query", "schema": {"type": "string"}}, *PAGING],
            _ok("Daftar produk", _list_of("Product"), csv=True),
            "data terbuka",
        ),
        "/api/open311/v2/discovery.{fmt}": _get(
            "GeoReport v2 discovery", [FMT], _ok("Discovery", {"type": "object"}, xml=True), "open311"
        ),
        "/api/open311/v2/services.{fmt}": _get(
            "Daftar layanan pengaduan desa",
            [FMT, JURISDICTION],
            {
                **_ok("Layanan", {"type": "array", "items": {"$ref": s + "Open311Service"}}, xml=True),
                **ERRORS_311,
            },
            "open311",
        ),
        "/api/open311/v2/services/{service_code}.{fmt}": _get(
            "Definisi layanan (atribut)",
            [
                {"name": "service_code", "in": "path", "required": True, "schema": {"type": "string"}},
                FMT,
                JURISDICTION,
            ],
            {**_ok("Definisi", {"type": "object"}, xml=True), **ERRORS_311},
            "open311",
        ),
        "/api/open311/v2/requests.{fmt}": {
            **_get(
                "Daftar pengaduan (tanpa data pribadi)",
                [
                    FMT,
                    JURISDICTION,
                    {"name": "service_request_id", "in": "query", "schema": {"type": "string"}},
                    {"name": "service_code", "in": "query", "schema": {"type": "string"}},
                    {
                        "name": "start_date",
                        "in": "query",
                        "schema": {"type": "string", "format": "date-time"},
                    },
                    {"name": "end_date", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["open", "closed", "open,closed"]},
                    },
                    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                ],
                {
                    **_ok("Pengaduan", {"type": "array", "items": {"$ref": s + "Open311Request"}}, xml=True),
                    **ERRORS_311,
                },
                "open311",
            ),
            "post": {
                "summary": "Kirim pengaduan ke antrean desa (butuh api_key desa itu)",
                "tags": ["open311"],
                "parameters": [FMT],
                "requestBody": {
                    "required": True,
                    "content": {"application/x-www-form-urlencoded": {"schema": {"$ref": s + "Open311Post"}}},
                },
                "responses": {
                    **_ok("Diterima", {"type": "array", "items": {"$ref": s + "Open311Created"}}, xml=True),
                    **ERRORS_311,
                    "403": {"description": "api_key salah, dicabut, atau bukan untuk desa ini"},
                },
            },
        },
        "/api/open311/v2/requests/{request_id}.{fmt}": _get(
            "Satu pengaduan",
            [
                {"name": "request_id", "in": "path", "required": True, "schema": {"type": "integer"}},
                FMT,
                JURISDICTION,
            ],
            {
                **_ok("Pengaduan", {"type": "array", "items": {"$ref": s + "Open311Request"}}, xml=True),
                **ERRORS_311,
            },
            "open311",
        ),
        "/api/open311/v2/tokens/{token}.{fmt}": _get(
            "Nomor pengaduan dari token (kode lacak)",
            [
                {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}},
                FMT,
                JURISDICTION,
            ],
            {
                **_ok("Nomor pengaduan", {"type": "array", "items": {"type": "object"}}, xml=True),
                **ERRORS_311,
            },
            "open311",
        ),
    }
    nullable_num = {"type": ["number", "null"]}
    schemas = {
        "Meta": {
            "type": "object",
            "properties": {
                "page": {"type": "integer"},
                "per_page": {"type": "integer"},
                "total": {"type": "integer"},
            },
        },
        "Region": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "name": {"type": "string"},
                "level": {"type": "integer"},
                "parent_code": {"type": ["string", "null"]},
            },
        },
        "Village": {
            "type": "object",
            "properties": {
                "slug": {"type": "string"},
                "name": {"type": "string"},
                "region_code": {"type": "string"},
                "district_code": {"type": "string"},
                "latitude": nullable_num,
                "longitude": nullable_num,
                "population": {"type": ["integer", "null"]},
                "households": {"type": ["integer", "null"]},
                "url": {"type": "string"},
            },
        },
        "Service": {
            "type": "object",
            "properties": {
                "village": {"type": "string"},
                "region_code": {"type": "string"},
                "code": {"type": "string"},
                "name": {"type": "string"},
                "kind": {"type": "string", "enum": ["letter", "complaint"]},
                "sla_days": {"type": "integer"},
                "fee": {"type": "integer"},
            },
        },
        "BudgetLine": {
            "type": "object",
            "properties": {
                "year": {"type": "integer"},
                "bidang": {"type": "string"},
                "bidang_name": {"type": "string"},
                "planned": {"type": "integer"},
                "realised": {"type": "integer"},
            },
        },
        "StatRow": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "name": {"type": "string"},
                "active_villages": {"type": "integer"},
                "requests": {"type": "integer"},
                "open": {"type": "integer"},
                "done": {"type": "integer"},
                "rejected": {"type": "integer"},
                "overdue": {"type": "integer"},
                "median_days": nullable_num,
                "within_sla_share": nullable_num,
                "products": {"type": "integer"},
                "orders": {"type": "integer"},
                **{f"status_{st}": {"type": "integer"} for st in states.STATUSES},
            },
        },
        "Stats": {
            "type": "object",
            "properties": {
                "region": {"$ref": s + "Region"},
                "period": {"type": "object"},
                "total": {"$ref": s + "StatRow"},
                "children": {"type": "array", "items": {"$ref": s + "StatRow"}},
                "services": {"type": "array", "items": {"type": "object"}},
            },
        },
        "Count": {
            "type": "object",
            "description": "n is null when the count is hidden: suppressed is then '<5' (1 to 4) or '×' "
            "(hidden so that a total cannot give a small count back).",
            "properties": {"n": {"type": ["integer", "null"]}, "suppressed": {"type": ["string", "null"]}},
        },
        "Population": {
            "type": "object",
            "properties": {
                "region": {"$ref": s + "Region"},
                "published_at": {"type": ["string", "null"], "format": "date-time"},
                "sources": {"type": "array", "items": {"type": "object"}},
                "totals": {"type": "object", "additionalProperties": {"$ref": s + "Count"}},
                "age": {"type": "array", "items": {"type": "object"}},
                "distributions": {"type": "object"},
                "children": {"type": "array", "items": {"type": "object"}},
                "freshness": {"type": "object"},
            },
        },
        "Product": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "price": {"type": "integer"},
                "unit": {"type": "string"},
                "category": {"type": "string"},
                "available": {"type": "boolean"},
                "bumdes": {"type": "string"},
                "village": {"type": "string"},
                "region_code": {"type": "string"},
            },
        },
        "Open311Service": {
            "type": "object",
            "properties": {
                k: {"type": "boolean"} if k == "metadata" else {"type": "string"}
                for k in (
                    "service_code",
                    "service_name",
                    "description",
                    "metadata",
                    "type",
                    "keywords",
                    "group",
                )
            },
        },
        "Open311Request": {
            "type": "object",
            "properties": {
                **{
                    k: {"type": ["string", "null"]}
                    for k in (
                        "service_request_id",
                        "status_notes",
                        "service_name",
                        "service_code",
                        "description",
                        "agency_responsible",
                        "service_notice",
                        "requested_datetime",
                        "updated_datetime",
                        "expected_datetime",
                        "address",
                        "address_id",
                        "zipcode",
                        "media_url",
                    )
                },
                "status": {"type": "string", "enum": ["open", "closed"]},
                "lat": nullable_num,
                "long": nullable_num,
            },
        },
        "Open311Post": {
            "type": "object",
            "required": ["api_key", "jurisdiction_id", "service_code", "description"],
            "properties": {
                **{
                    k: {"type": "string"}
                    for k in (
                        "api_key",
                        "jurisdiction_id",
                        "service_code",
                        "address_string",
                        "address_id",
                        "email",
                        "device_id",
                        "account_id",
                        "first_name",
                        "last_name",
                        "phone",
                        "description",
                        "media_url",
                    )
                },
                "lat": {"type": "number"},
                "long": {"type": "number"},
            },
            "additionalProperties": {
                "type": "string",
                "description": "attribute[code] untuk atribut layanan",
            },
        },
        "Open311Created": {
            "type": "object",
            "properties": {
                "service_request_id": {"type": "string"},
                "token": {"type": "string"},
                "service_notice": {"type": "string"},
                "account_id": {"type": ["string", "null"]},
            },
        },
        "Open311Errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"code": {"type": "integer"}, "description": {"type": "string"}},
            },
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Balai API",
            "version": "1.0.0",
            "description": "Data terbuka layanan desa (angka gabungan, tanpa data pribadi) dan Open311 GeoReport v2.",
            "license": {"name": "ODbL-1.0", "identifier": "ODbL-1.0"},
        },
        "paths": paths,
        "components": {"schemas": schemas},
    }
