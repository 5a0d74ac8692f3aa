"""Open311 GeoReport v2 and the open data API: used as outside clients use them."""

from __future__ import annotations

import csv
import io
import re
import threading
from xml.etree import ElementTree as ET

import pytest
import requests
from openapi_spec_validator import validate
from sqlalchemy import select
from werkzeug.serving import make_server

from app import workflow
from app.api.spec import openapi_document
from app.extensions import db
from app.models import ServiceRequest
from app.models.profile import ApiKey
from app.stats.keys import issue_key, revoke_key
from tests.test_dashboards_support import (
    SECRET_EMAIL,
    SECRET_NAME,
    SECRET_NIK,
    SECRET_PHONE,
    SECRET_TEXT,
    submit,
    test_services,
    village,
)

HANURA = "18.09.10.2004"
TRIMULYO = "18.04.15.2004"
SECRETS = (SECRET_NIK, SECRET_PHONE, SECRET_PHONE[3:], SECRET_EMAIL, SECRET_NAME, SECRET_TEXT)


@pytest.fixture
def live(app):
    """The app served over real HTTP on a free port, in a thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)
    server.server_close()


@pytest.fixture
def keys(app, demo):
    """A fresh Open311 key for Hanura and one for Trimulyo, plus their complaint services."""
    out = {}
    for slug in ("hanura", "trimulyo"):
        v = village(slug)
        test_services(v)
        out[slug] = issue_key(v, "uji")
    db.session.commit()
    return out


def _no_secrets(body: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in body, (where, secret)


def test_an_open311_client_lists_services_and_requests_and_posts_into_the_village_queue(
    live, keys, auth, client
):
    session = requests.Session()
    base = f"{live}/api/open311/v2"
    services = session.get(f"{base}/services.json", params={"jurisdiction_id": HANURA}, timeout=10)
    assert services.status_code == 200
    codes = [s["service_code"] for s in services.json()]
    assert "uji-aduan" in codes and "uji-surat" not in codes  # letters are not civic reports
    definition = session.get(
        f"{base}/services/uji-aduan.json", params={"jurisdiction_id": HANURA}, timeout=10
    )
    assert definition.json()["attributes"][0]["code"] == "dusun"

    before = session.get(f"{base}/requests.json", params={"jurisdiction_id": HANURA}, timeout=10)
    assert before.status_code == 200 and isinstance(before.json(), list)

    posted = session.post(
        f"{base}/requests.json",
        data={
            "api_key": keys["hanura"],
            "jurisdiction_id": HANURA,
            "service_code": "uji-aduan",
            "lat": "-5.533412",
            "long": "105.235077",
            "address_string": "Jl. Mawar 5 depan rumah Pak Rahasia",
            "description": SECRET_TEXT,
            "first_name": "Siti",
            "last_name": "Rahasiawati",
            "email": SECRET_EMAIL,
            "phone": "0813-9988-7766",
            "attribute[dusun]": "Dusun 2",
        },
        timeout=10,
    )
    assert posted.status_code == 200, posted.text
    created = posted.json()[0]
    request_id = int(created["service_request_id"])
    _no_secrets(posted.text, "POST response")

    stored = db.session.get(ServiceRequest, request_id)
    assert stored.village_id == village("hanura").id
    assert stored.channel == "api" and stored.status == "diajukan"
    assert (
        stored.phone == SECRET_PHONE and stored.email == SECRET_EMAIL
    )  # kept for the village, never sent out

    one = session.get(
        f"{base}/requests/{request_id}.json", params={"jurisdiction_id": HANURA}, timeout=10
    ).json()[0]
    assert one["status"] == "open"
    assert "Diajukan" in one["status_notes"]
    assert one["lat"] == -5.533 and one["long"] == 105.235
    listed = session.get(
        f"{base}/requests.json", params={"jurisdiction_id": HANURA, "status": "open"}, timeout=10
    )
    assert str(request_id) in [r["service_request_id"] for r in listed.json()]
    xml = session.get(f"{base}/requests.xml", params={"jurisdiction_id": HANURA}, timeout=10)
    assert xml.headers["Content-Type"].startswith("text/xml")
    tree = ET.fromstring(xml.content)  # noqa: S314 (our own server)
    ids = [node.text for node in tree.iter("service_request_id")]
    assert str(request_id) in ids
    token = session.get(
        f"{base}/tokens/{created['token']}.json", params={"jurisdiction_id": HANURA}, timeout=10
    )
    assert token.json()[0]["service_request_id"] == str(request_id)
    for response in (listed, xml, token):
        _no_secrets(response.text, response.url)
        assert "Mawar" not in response.text

    # The village's own queue shows it to its operator.
    auth.login("operator.hanura@balai.test")
    queue = client.get("/kantor/")
    if queue.status_code == 200:
        assert stored.tracking_code in queue.get_data(as_text=True)


def test_posting_the_same_report_twice_creates_one_request(live, keys):
    form = {
        "api_key": keys["hanura"],
        "jurisdiction_id": HANURA,
        "service_code": "uji-aduan",
        "address_string": "Balai",
        "description": "Lampu jalan mati",
    }
    url = f"{live}/api/open311/v2/requests.json"
    first = requests.post(url, data=form, timeout=10).json()[0]
    second = requests.post(url, data=form, timeout=10).json()[0]
    assert first["service_request_id"] == second["service_request_id"]


def test_an_idempotency_key_is_scoped_to_the_api_key_that_sent_it(live, keys):
    # Two apps of one village, each with its own key, happen to use the same Idempotency-Key:
    # each gets its own report stored, never the other's back.
    app_b_key = issue_key(village("hanura"), "aplikasi B")
    db.session.commit()
    url = f"{live}/api/open311/v2/requests.json"
    base = {"jurisdiction_id": HANURA, "service_code": "uji-aduan", "address_string": "Balai"}
    headers = {"Idempotency-Key": "laporan-0001"}
    a = requests.post(
        url, data={**base, "api_key": keys["hanura"], "description": "Lampu A"}, headers=headers, timeout=10
    )
    b = requests.post(
        url, data={**base, "api_key": app_b_key, "description": "Jalan B"}, headers=headers, timeout=10
    )
    assert a.status_code == b.status_code == 200, b.text
    a_id, b_id = a.json()[0]["service_request_id"], b.json()[0]["service_request_id"]
    assert a_id != b_id and a.json()[0]["token"] != b.json()[0]["token"]
    assert db.session.get(ServiceRequest, int(b_id)).purpose == "Jalan B"
    # The same key retrying with its Idempotency-Key still gets its own request back, once.
    again = requests.post(
        url, data={**base, "api_key": app_b_key, "description": "Jalan B"}, headers=headers, timeout=10
    )
    assert again.json()[0]["service_request_id"] == b_id


def test_guessing_tokens_through_open311_is_cut_off_with_the_same_budget_as_tracking(
    live, keys, app, monkeypatch
):
    monkeypatch.setitem(app.config, "TRACK_MISS_LIMIT", "5 per minute")
    url = f"{live}/api/open311/v2/tokens/{{}}.json"
    guesses = [f"2345-6789-A{c}" for c in "BCDEFGH"]
    answers = [requests.get(url.format(g), params={"jurisdiction_id": HANURA}, timeout=10) for g in guesses]
    assert [r.status_code for r in answers[:5]] == [404] * 5
    blocked = answers[5]
    assert blocked.status_code == 429 and blocked.headers["Retry-After"]
    assert blocked.json()[0]["code"] == 429 and "unknown tokens" in blocked.json()[0]["description"]
    xml = requests.get(
        url.format(guesses[6]).replace(".json", ".xml"), params={"jurisdiction_id": HANURA}, timeout=10
    )
    assert xml.status_code == 429 and ET.fromstring(xml.content).find("error/code").text == "429"  # noqa: S314
    # One budget for every door: the tracking page is closed to this address too.
    assert requests.get(f"{live}/lacak/2345-6789-BB", timeout=10).status_code == 429


def test_absolute_links_come_from_base_url_never_from_a_forged_host_header(live, demo):
    forged = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    villages = requests.get(f"{live}/api/v1/villages", headers=forged, timeout=10)
    discovery = requests.get(f"{live}/api/open311/v2/discovery.json", headers=forged, timeout=10)
    xml = requests.get(f"{live}/api/open311/v2/discovery.xml", headers=forged, timeout=10)
    csv_rows = requests.get(f"{live}/api/v1/villages", params={"format": "csv"}, headers=forged, timeout=10)
    for response in (villages, discovery, xml, csv_rows):
        assert response.status_code == 200
        assert "evil.example" not in response.text, response.url
    urls = [row["url"] for row in villages.json()["data"]]
    assert urls and all(u.startswith("http://balai.test/desa/") for u in urls)
    assert discovery.json()["endpoints"][0]["url"] == "http://balai.test/api/open311/v2/"


def test_api_keys_are_scoped_to_one_village(client, keys):
    form = {
        "jurisdiction_id": TRIMULYO,
        "service_code": "uji-aduan",
        "address_string": "Balai pekon",
        "description": "Jembatan rusak",
    }
    url = "/api/open311/v2/requests.json"
    assert client.post(url, data={**form, "api_key": keys["hanura"]}).status_code == 403
    assert client.post(url, data=form).status_code == 403
    assert client.post(url, data={**form, "api_key": "balai_tebakan"}).status_code == 403
    assert client.post(url, data={**form, "api_key": keys["trimulyo"]}).status_code == 200

    key = db.session.scalar(select(ApiKey).where(ApiKey.village_id == village("trimulyo").id))
    revoke_key(key)
    db.session.commit()
    refused = client.post(url, data={**form, "description": "lagi", "api_key": keys["trimulyo"]})
    assert refused.status_code == 403
    assert refused.get_json()[0]["code"] == 403
    xml = client.post("/api/open311/v2/requests.xml", data={**form, "api_key": keys["hanura"]})
    tree = ET.fromstring(xml.data)  # noqa: S314 (our own server)
    assert tree.find("error/code").text == "403"


def test_keys_are_stored_only_as_digests(keys):
    stored = db.session.scalars(select(ApiKey.digest)).all()
    assert keys["hanura"] not in stored and len(stored[0]) == 64


def test_operator_issues_and_revokes_a_key_for_their_own_village(client, auth, demo):
    auth.login("operator.trimulyo@balai.test")
    page = auth.post("/kelola-desa/api", {"name": "Aplikasi kabupaten"})
    key = re.search(r"balai_[A-Za-z0-9_-]+", page.get_data(as_text=True)).group(0)
    row = db.session.scalar(select(ApiKey).where(ApiKey.name == "Aplikasi kabupaten"))
    assert row.village_id == village("trimulyo").id
    assert key not in client.get("/kelola-desa/api").get_data(as_text=True)  # shown once only
    auth.post(f"/kelola-desa/api/{row.id}/cabut", form_page="/kelola-desa/api")
    db.session.refresh(row)
    assert not row.active


def test_open311_errors_follow_the_spec(client, keys):
    assert client.get("/api/open311/v2/services.json").status_code == 400
    assert client.get("/api/open311/v2/services.json?jurisdiction_id=99").status_code == 404
    missing = client.post(
        "/api/open311/v2/requests.json",
        data={
            "api_key": keys["hanura"],
            "jurisdiction_id": HANURA,
            "service_code": "uji-aduan",
            "description": "x",
        },
    )
    assert missing.status_code == 400 and "location" in missing.get_json()[0]["description"]
    bad_phone = client.post(
        "/api/open311/v2/requests.json",
        data={
            "api_key": keys["hanura"],
            "jurisdiction_id": HANURA,
            "service_code": "uji-aduan",
            "lat": "-5.5",
            "long": "105.2",
            "description": "x",
            "phone": "12",
        },
    )
    assert bad_phone.status_code == 400
    assert (
        client.get(f"/api/open311/v2/requests.json?jurisdiction_id={HANURA}&status=lost").status_code == 400
    )
    assert client.get(f"/api/open311/v2/requests/999999.json?jurisdiction_id={HANURA}").status_code == 404


def test_requests_filters_by_status_service_and_id(client, keys):
    v = village("hanura")
    _letter, complaint = test_services(v)
    done = submit(v, complaint)
    for action in ("verify", "start", "resolve"):
        workflow.apply_action(done, action, actor=None, note="Jalan sudah ditambal")
    still_open = submit(v, complaint)
    db.session.commit()
    base = f"/api/open311/v2/requests.json?jurisdiction_id={HANURA}"
    closed = [r["service_request_id"] for r in client.get(base + "&status=closed").get_json()]
    assert str(done.id) in closed and str(still_open.id) not in closed
    by_id = client.get(base + f"&service_request_id={still_open.id}").get_json()
    assert [r["service_request_id"] for r in by_id] == [str(still_open.id)]
    assert client.get(base + "&service_code=tidak-ada").get_json() == []
    assert client.get(base + "&start_date=2999-01-01T00:00:00Z").get_json() == []
    other = client.get(f"/api/open311/v2/requests/{done.id}.json?jurisdiction_id={TRIMULYO}")
    assert other.status_code == 404  # another jurisdiction's id


def _api_rules(app) -> set[tuple[str, str]]:
    out = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api"):
            path = re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule.rule)
            out.update((path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"})
    return out


def test_openapi_document_validates_and_matches_the_routes(app, client):
    document = client.get("/api/openapi.json").get_json()
    validate(document)
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    assert documented == _api_rules(app)
    assert document == openapi_document()


def test_the_human_api_page_lists_every_endpoint(app, client):
    html = client.get("/api/").get_data(as_text=True)
    for path, _method in _api_rules(app):
        assert path in html


def test_open_data_lists_are_paginated_cacheable_and_downloadable(client, demo):
    first = client.get("/api/v1/regions?parent=18.04&per_page=5")
    body = first.get_json()
    assert body["meta"] == {"page": 1, "per_page": 5, "total": body["meta"]["total"]}
    assert body["meta"]["total"] > 5 and len(body["data"]) == 5
    assert 'rel="next"' in first.headers["Link"]
    second = client.get(body["links"]["next"])
    assert second.get_json()["data"][0]["code"] > body["data"][-1]["code"]
    etag = first.headers["ETag"]
    cached = client.get("/api/v1/regions?parent=18.04&per_page=5", headers={"If-None-Match": etag})
    assert cached.status_code == 304
    download = client.get("/api/v1/villages?format=csv&region=18.04")
    rows = list(csv.DictReader(io.StringIO(download.get_data(as_text=True))))
    assert {r["slug"] for r in rows} == {"trimulyo", "pampangan", "rigis-jaya", "ringinjaya"}
    stats = client.get("/api/v1/stats/18.04?period=semua").get_json()
    assert stats["region"]["name"].endswith("Lampung Barat")
    assert stats["total"]["active_villages"] == 4
    assert sum(c["requests"] for c in stats["children"]) == stats["total"]["requests"]
    assert client.get("/api/v1/stats/18.04?format=csv").mimetype == "text/csv"
    assert client.get("/api/v1/stats/00").status_code == 404
    apbdes = client.get("/api/v1/villages/hanura/apbdes").get_json()
    assert {row["bidang"] for row in apbdes["data"]} >= {"pemerintahan", "bencana"}
    assert client.get("/api/v1/villages/tidak-ada/apbdes").status_code == 404
    assert client.get("/api/v1/services?village=hanura").get_json()["meta"]["total"] >= 1
    assert client.get("/api/v1/products?region=18").status_code == 200


def test_no_personal_data_in_any_api_response(client, keys):
    v = village("hanura")
    _letter, complaint = test_services(v)
    for _ in range(2):
        submit(v, complaint, data={"lat": -5.5, "long": 105.2, "address_string": "Jl. Mawar 5"})
    db.session.commit()
    urls = [
        "/api/v1/regions",
        "/api/v1/villages",
        "/api/v1/villages?format=csv",
        "/api/v1/services",
        "/api/v1/stats/18",
        "/api/v1/stats/18.09.10.2004",
        "/api/v1/stats/18.09?format=csv",
        "/api/v1/products",
        "/api/v1/villages/hanura/apbdes",
        f"/api/open311/v2/services.json?jurisdiction_id={HANURA}",
        f"/api/open311/v2/requests.json?jurisdiction_id={HANURA}",
        f"/api/open311/v2/requests.xml?jurisdiction_id={HANURA}",
    ]
    ids = [r["service_request_id"] for r in client.get(urls[-2]).get_json()]
    assert len(ids) >= 2
    urls += [f"/api/open311/v2/requests/{i}.xml?jurisdiction_id={HANURA}" for i in ids]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.get_data(as_text=True)
        _no_secrets(body, url)
        assert "Mawar" not in body and "nik" not in body.lower().replace("unik", "")


def test_a_published_open311_client_library_reads_what_balai_serves(live, keys):
    """georeport (PyPI), a GeoReport v2 client written by others, in JSON and in XML."""
    from georeport import GeoReport

    base = f"{live}/api/open311/v2"
    posted = requests.post(
        f"{base}/requests.json",
        data={
            "api_key": keys["hanura"],
            "jurisdiction_id": HANURA,
            "service_code": "uji-aduan",
            "address_string": "Dusun 1",
            "description": "Lampu jalan mati",
            "attribute[dusun]": "Dusun 1",
        },
        timeout=10,
    )
    request_id = posted.json()[0]["service_request_id"]
    for fmt in ("json", "xml"):
        client = GeoReport(base, jurisdiction=HANURA, output_format=fmt)
        services = client.get_service_list()
        services = services if isinstance(services, list) else [services]
        assert "uji-aduan" in [s["service_code"] for s in services]
        assert client.get_service_definition("uji-aduan")
        found = client.get_service_requests(service_code="uji-aduan", status="open")
        found = found if isinstance(found, list) else [found]
        assert request_id in [str(r["service_request_id"]) for r in found]
        one = client.get_service_request(request_id)
        one = one[0] if isinstance(one, list) else one
        assert str(one["service_request_id"]) == request_id and one["status"] == "open"
