"""Every htmx action, as shipped, under the shipped Content-Security-Policy: not one violation.

The app runs as it does in production (gunicorn with gunicorn.conf.py, BALAI_ENV=production, the
CSP from app/security.py); a 360x640 phone (DPR 2, touch, id-ID) signs in as each role and presses
every htmx control of its pages. Violations are read from outside the page: the console (Chromium
logs each one there) and the DevTools Audits domain (a ContentSecurityPolicyIssue per violation),
so nothing is added to the page under test.
"""

from __future__ import annotations

import re
import secrets
from contextlib import contextmanager

import pytest
from sqlalchemy import select

from app import letters, workflow
from app.extensions import db
from app.models import Service, ServiceRequest, Village
from app.models.bumdes import Bumdes
from tests.conftest import DEMO_PASSWORD
from tests.gunicorn_support import serve_test_database
from tests.test_bumdes import make_product

pytestmark = pytest.mark.browser

PHONE = {
    "viewport": {"width": 360, "height": 640},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "id-ID",
}
CSP_MESSAGE = re.compile(r"Content Security Policy|Content-Security-Policy", re.I)


@pytest.fixture(scope="module")
def web(_app, tmp_path_factory):
    """gunicorn as the Procfile runs it, in production mode, on the tests' database."""
    with serve_test_database(tmp_path_factory.mktemp("csp"), BALAI_ENV="production") as server:
        yield server


class Phone:
    """One signed-in phone; ``violations`` holds every CSP violation its pages reported."""

    def __init__(self, browser, base: str):
        self.base = base
        self.context = browser.new_context(**PHONE)
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.violations: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.violations.append(f"page error: {exc}"))
        cdp = self.context.new_cdp_session(self.page)
        cdp.on("Audits.issueAdded", self._issue)
        cdp.send("Audits.enable")

    def _console(self, message) -> None:
        if CSP_MESSAGE.search(message.text):
            self.violations.append(f"{self.page.url}: {message.text}")

    def _issue(self, event) -> None:
        issue = event["issue"]
        if issue["code"] == "ContentSecurityPolicyIssue":
            details = issue["details"]["contentSecurityPolicyIssueDetails"]
            self.violations.append(
                f"{self.page.url}: {details.get('violatedDirective')} {details.get('contentSecurityPolicyViolationType')}"
            )

    def sign_in(self, email: str) -> None:
        self.page.goto(self.base + "/akun/masuk")
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("Kata sandi").fill(DEMO_PASSWORD)
        self.page.locator("main form button").click()
        self.page.wait_for_url(re.compile(r"/(kantor|bumdes|admin|wilayah)"))

    def open(self, path: str) -> None:
        response = self.page.goto(self.base + path, wait_until="networkidle")
        assert response.status == 200, path

    @contextmanager
    def htmx(self, path: str | re.Pattern = ""):
        """Wait for the htmx request the block starts (to ``path``), its swap and settle."""
        pattern = re.compile(re.escape(path)) if isinstance(path, str) else path

        def is_htmx(response) -> bool:
            headers = response.request.headers
            asked = "true" in (headers.get("hx-request"), headers.get("hx-history-restore-request"))
            return asked and bool(pattern.search(response.url))

        with self.page.expect_response(is_htmx):
            yield
        self.page.wait_for_load_state("networkidle")
        self.page.wait_for_timeout(100)  # htmx settles 20 ms after the swap

    def close(self) -> list[str]:
        self.page.wait_for_timeout(300)  # console messages arrive asynchronously
        self.context.close()
        return self.violations


@pytest.fixture
def phones(_chromium, web):
    opened: list[Phone] = []

    def open_phone(email: str | None = None) -> Phone:
        phone = Phone(_chromium, web.base)
        opened.append(phone)
        if email:
            phone.sign_in(email)
        return phone

    yield open_phone
    for phone in opened:
        if phone.context.pages:
            phone.context.close()


def _letters(village: Village, count: int) -> list[int]:
    """``count`` new letter requests in ``village``, freshly submitted."""
    service = db.session.scalar(
        select(Service).where(Service.village_id == village.id, Service.code == "domisili")
    )
    ids = []
    for n in range(count):
        submitted = workflow.submit_request(
            village,
            service,
            nik=f"18091045069{n:05d}",
            name=f"Warga RT 2 Nomor {n}",
            phone="+6281234567890",
            idempotency_key=secrets.token_hex(8),
            data={"tempat_lahir": "Pesawaran", "pekerjaan": "Petani", "alamat": "Dusun II"},
            purpose="Melamar kerja",
        )
        ids.append(submitted.request.id)
    db.session.commit()
    return ids


def _press(phone: Phone, action: str, note: str | None = None) -> None:
    form = phone.page.locator(f"#permohonan form.act:has(input[name=action][value={action}])")
    if note is not None:
        form.locator("textarea").fill(note)
    with phone.htmx("/aksi"):
        form.get_by_role("button").click()


def _resize(phone: Phone, textarea) -> None:
    """Drag a text box's corner down, as people do to see more of what they type."""
    textarea.scroll_into_view_if_needed()
    box = textarea.bounding_box()
    corner = (box["x"] + box["width"] - 3, box["y"] + box["height"] - 3)
    phone.page.mouse.move(*corner)
    phone.page.mouse.down()
    phone.page.mouse.move(corner[0], corner[1] + 60, steps=4)
    phone.page.mouse.up()
    assert textarea.bounding_box()["height"] > box["height"]


def test_every_htmx_action_on_officials_pages_breaks_no_content_security_rule(app, demo, web, phones):
    hanura = db.session.scalar(select(Village).where(Village.slug == "hanura"))
    # The head approves letters here, so the walk meets "Ajukan surat" and "Setujui dan terbitkan".
    settings = letters.settings_for(hanura.id)
    settings.require_head_approval = True
    db.session.merge(settings)
    walked, fixed, refused, stale, *_ = _letters(hanura, 26)  # more than a page of the queue

    operator = phones("operator.hanura@balai.test")
    # The queue: each filter, a search as it is typed, the next page and back to the first.
    operator.open("/kantor/")
    with operator.htmx("/kantor/"):
        operator.page.get_by_label("Status").select_option("semua")
    with operator.htmx("/kantor/"):
        operator.page.get_by_label("Layanan").select_option(index=1)
    with operator.htmx("/kantor/"):
        operator.page.get_by_label("Layanan").select_option(index=0)
    # A search with digits may be a NIK: it pages by POST (forms), any other search by links.
    search = operator.page.get_by_label(re.compile("^Cari"))
    with operator.htmx("/kantor/"):
        search.fill("RT 2")
    search.press("Tab")  # leaving the field asks nothing more (the search ran as it was typed)
    with operator.htmx("/kantor/"):
        operator.page.locator("#antrian").get_by_role("button", name="Berikutnya").click()
    with operator.htmx("/kantor/"):
        operator.page.locator("#antrian").get_by_role("button", name="Ke awal").click()
    with operator.htmx("/kantor/"):
        search.fill("")
    search.press("Tab")
    with operator.htmx("/kantor/"):
        operator.page.locator("#antrian").get_by_role("link", name="Berikutnya").click()
    with operator.htmx("/kantor/"):
        operator.page.locator("#antrian").get_by_role("link", name="Ke awal").click()
    with operator.htmx("/kantor/"):  # Back: htmx restores the page from the server
        operator.page.go_back()

    # One request forward through every step, with the letter put before the head.
    operator.open(f"/kantor/permohonan/{walked}")
    # Note boxes the official made bigger (the browser gives each a style attribute): the answer
    # to the next action carries boxes with the same ids, and htmx used to copy that attribute.
    for note in operator.page.locator("#permohonan textarea").all():
        _resize(operator, note)
    _press(operator, "verify")
    _press(operator, "start")
    _press(operator, "mark_ready")
    operator.page.locator("#permohonan").get_by_text("Menunggu persetujuan").wait_for()
    # Asking for fixes and refusing, each with its message to the resident.
    operator.open(f"/kantor/permohonan/{fixed}")
    _press(operator, "request_fix", "Foto KTP buram, mohon foto ulang dengan terang.")
    operator.open(f"/kantor/permohonan/{refused}")
    _press(operator, "reject", "Bukan warga desa ini.")
    # An action on a request someone else changed meanwhile: the 422 answer is swapped in.
    operator.open(f"/kantor/permohonan/{stale}")
    other = operator.context.new_page()
    other.goto(f"{web.base}/kantor/permohonan/{stale}")
    with other.expect_response(re.compile("/aksi$")):
        other.locator("form.act:has(input[value=verify]) button").click()
    other.close()
    with operator.htmx("/aksi"):
        operator.page.locator("#permohonan form.act:has(input[value=verify]) button").click()
    operator.page.locator("#permohonan [role=alert]").wait_for()
    # The inbox: "mark all as read" swaps the whole body.
    operator.open("/notifikasi")
    with operator.htmx(re.compile("/notifikasi")):
        operator.page.get_by_role("button", name=re.compile("Tandai semua")).click()
    # Pages without htmx controls, loaded as an official opens them (letter settings, attendance, counter, services).
    for path in ("/kantor/pengaturan-surat", "/kantor/kehadiran", "/kantor/loket", "/kantor/layanan"):
        operator.open(path)
    assert operator.close() == []

    head = phones("kades.hanura@balai.test")
    head.open(f"/kantor/permohonan/{walked}")
    _press(head, "mark_ready")  # "Setujui dan terbitkan surat": the letter gets its number
    _press(head, "hand_over")
    assert db.session.scalar(select(ServiceRequest.status).where(ServiceRequest.id == walked)) == "selesai"
    assert head.close() == []

    tv = phones()
    tv.open("/desa/hanura/antrian")
    with tv.htmx("/desa/hanura/antrian"):  # it asks again every 8 s
        pass
    assert tv.close() == []


def test_every_htmx_action_of_bumdes_managers_and_region_staff_breaks_no_content_security_rule(
    app, demo, web, phones
):
    manager = phones("bumdes.hanura@balai.test")
    manager.page.get_by_role("link", name="Produk").first.click()
    manager.page.wait_for_load_state("networkidle")
    row = manager.page.locator("li.prow").first
    with manager.htmx("/ubah"):
        row.get_by_role("link", name="Ubah").click()
    editing = manager.page.locator("li.prow.editing")
    _resize(manager, editing.locator("textarea"))
    name = editing.get_by_label("Nama produk")
    kept = name.input_value()
    name.fill("")
    with manager.htmx("/ubah"):  # 422: the form comes back with its error, its fields under the same ids
        editing.get_by_role("button", name="Simpan").click()
    editing.locator(".field.invalid").first.wait_for()
    name.fill(kept)
    with manager.htmx("/ubah"):
        editing.get_by_role("button", name="Simpan").click()
    with manager.htmx("/ubah"):
        manager.page.locator("li.prow").first.get_by_role("link", name="Ubah").click()
    with manager.htmx(re.compile(r"/produk/\d+$")):
        manager.page.locator("li.prow.editing").get_by_role("link", name="Batal").click()
    with manager.htmx("/tersedia"):
        manager.page.locator("li.prow").first.get_by_role("button", name=re.compile("Tandai")).click()
    with manager.htmx("/terbit"):
        manager.page.locator("li.prow form[action$='/terbit'] button").first.click()
    manager.page.get_by_role("link", name="Pesanan", exact=True).click()
    for status, button in (("Baru", "Konfirmasi"), ("Dikonfirmasi", "Selesai")):
        manager.page.get_by_role("link", name=re.compile(rf"^{status} \(")).click()
        manager.page.wait_for_load_state("networkidle")
        with manager.htmx("/status"):
            manager.page.locator("li.orow").first.get_by_role("button", name=button).click()
    assert manager.close() == []

    region = phones("pesawaran@balai.test")
    region.open("/wilayah/18.09/calon-smart-village")
    with region.htmx("/calon-smart-village"):
        region.page.locator("form[hx-get]").get_by_role("button").click()
    region.open("/kantor/pengaduan-wilayah")
    assert region.close() == []

    admin = phones("admin@balai.test")
    admin.open("/admin/pengguna")
    with admin.htmx("/admin/pengguna"):  # an empty form: 422, the form with its errors swapped in
        admin.page.locator("#user-form").get_by_role("button").click()
    admin.open("/admin/desa")
    with admin.htmx("/admin/desa"):
        admin.page.get_by_role("searchbox").fill("hanura")
    assert admin.close() == []


def test_every_htmx_action_on_residents_and_shop_pages_breaks_no_content_security_rule(
    app, demo, web, phones
):
    bumdes = db.session.scalar(select(Bumdes).order_by(Bumdes.id))
    for n in range(13):  # more than one page of the catalogue: "Muat lagi" appears
        make_product(bumdes, f"Keripik Singkong Rasa {n}")
    resident = phones()
    resident.open("/")
    with resident.htmx("/"):
        resident.page.get_by_role("searchbox").fill("hanura")
    resident.open("/desa/hanura/produk")
    with resident.htmx("/desa/hanura/produk"):
        resident.page.get_by_role("searchbox").fill("ikan")
    resident.open("/produk")
    with resident.htmx("/produk"):
        resident.page.get_by_role("link", name="Muat lagi").click()
    product = resident.page.locator("a[href^='/produk/']").first.get_attribute("href")
    resident.open(product)
    with resident.htmx("/produk/"):
        resident.page.locator("#wa-jumlah").fill("3")
        resident.page.locator("#wa-jumlah").press("Tab")
    code = db.session.scalar(
        select(ServiceRequest.tracking_code).where(ServiceRequest.status == "diproses").limit(1)
    )
    resident.open(f"/lacak/{code}")
    with resident.htmx(f"/lacak/{code}"):  # it asks again every 15 s
        pass
    assert resident.close() == []
