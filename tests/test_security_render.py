"""What people type is shown as text: never markup, never a msgid, never run by htmx.

An operator once saved ``<div hx-post="/admin/pengguna" hx-trigger="load" hx-vals=…>`` as a service
description; templates passed it through ``_()``, which marks its result safe, and a superadmin who
opened the service list created the attacker's account. The scans below fail when gettext gets
anything but a msgid the code wrote, when markup is marked safe outside the two places that build it
from numbers and escaped text, or when autoescaping is switched off. The attacks then run the same
payloads through every page that shows them.
"""

from __future__ import annotations

import ast
import functools
import importlib
import json
import pkgutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from jinja2 import nodes
from sqlalchemy import func, select

import app as app_package
from app.domain.errors import DomainError
from app.extensions import db
from app.models import Service, ServiceRequest, User, Village
from tests.conftest import DEMO_PASSWORD, csrf_from

APP_DIR = Path(app_package.__file__).parent
TEMPLATES = APP_DIR / "templates"

# --- the scans --------------------------------------------------------------------------------

GETTEXT = {
    "_",
    "gettext",
    "ngettext",
    "pgettext",
    "npgettext",
    "_l",
    "lazy_gettext",
    "lazy_ngettext",
    "lazy_pgettext",
}
# How many leading arguments are msgids (context and plural forms included).
MSGID_ARGS = {"ngettext": 2, "lazy_ngettext": 2, "pgettext": 2, "lazy_pgettext": 2, "npgettext": 3}
# Functions that translate an entry of a code table chosen by key; their first argument must be
# a module-level table (an UPPER_CASE name), never something built from data.
KEYED = {"coded", "translated", "lazy_coded"}

# The only module that hands gettext something other than a literal: entries of module-level
# tables of N_ literals, looked up by key.
GETTEXT_BY_KEY = {"app/i18n.py": "translates entries of module-level msgid tables, chosen by key"}
# The only places that build markup in Python.
MARKUP_ALLOWED = {
    "app/caching.py": "inline_css(): the app's own stylesheet, read from static/ at startup",
    "app/qr.py": "qr_svg(): numbers and escape()d text only",
    "app/datacache.py": "render_block()/render_whole(): the output of our own autoescaped templates, kept",
}
# Templates Flask does not autoescape (by extension), and what they may print.
NOT_AUTOESCAPED = {"pwa/sw.js": "prints only asset() and url_for() URLs and the app version"}


def _rel(path: Path) -> str:
    return str(path.relative_to(APP_DIR.parent))


def _python_files():
    for path in sorted(APP_DIR.rglob("*.py")):
        yield _rel(path), _parse(path)


@functools.cache
def _parse(path: Path) -> ast.Module:
    source = path.read_text()
    try:
        return ast.parse(source, filename=str(path))
    except SystemError:
        # CPython 3.11's AST conversion can miscount its recursion depth (gh-106905, "AST recursion
        # depth mismatch") when another test changed the recursion limit; a second parse is clean.
        return ast.parse(source, filename=str(path))


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _is_literal(arg: ast.expr) -> bool:
    return isinstance(arg, ast.Constant) and isinstance(arg.value, str)


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}


def _domain_error_names() -> set[str]:
    for module in pkgutil.walk_packages(app_package.__path__, "app."):
        importlib.import_module(module.name)
    found, todo = set(), [DomainError]
    while todo:
        cls = todo.pop()
        found.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return found


def _is_domain_error_message(call: ast.Call, parents, domain_errors: set[str]) -> bool:
    """``_(err.message, **err.params)`` inside ``except <a DomainError> as err``."""
    first = call.args[0]
    if not (
        isinstance(first, ast.Attribute) and first.attr == "message" and isinstance(first.value, ast.Name)
    ):
        return False
    if len(call.args) != 1 or any(k.arg is not None for k in call.keywords):
        return False
    if [ast.unparse(k.value) for k in call.keywords] != [f"{first.value.id}.params"]:
        return False
    node = call
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.ExceptHandler) and node.name == first.value.id:
            caught = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
            return all(_name(c) in domain_errors for c in caught)
    return False


def test_python_hands_gettext_only_msgids_the_code_wrote():
    domain_errors = _domain_error_names()
    wrong = []
    for rel, tree in _python_files():
        if rel in GETTEXT_BY_KEY:
            continue
        parents = _parents(tree)
        for call in ast.walk(tree):
            if not isinstance(call, ast.Call) or _name(call.func) not in GETTEXT or not call.args:
                continue
            if isinstance(call.func, ast.Attribute) and call.func.attr == "_":
                continue
            count = MSGID_ARGS.get(_name(call.func), 1)
            if all(_is_literal(a) for a in call.args[:count]):
                continue
            if _is_domain_error_message(call, parents, domain_errors):
                continue
            wrong.append(f"{rel}:{call.lineno}: {ast.unparse(call)}")
    assert not wrong, (
        "gettext on something that is not a literal msgid (data must never be translated; "
        "translate a code table by key with app.i18n.coded/translated):\n" + "\n".join(wrong)
    )


def test_keyed_translation_reads_only_module_level_tables():
    wrong = []
    for rel, tree in _python_files():
        for call in ast.walk(tree):
            if isinstance(call, ast.Call) and _name(call.func) in KEYED:
                table = call.args[0] if call.args else None
                name = _name(table) if isinstance(table, ast.Name | ast.Attribute) else None
                if not (name and name.isupper()):
                    wrong.append(f"{rel}:{call.lineno}: {ast.unparse(call)}")
    assert not wrong, "coded/translated take a module-level table (UPPER_CASE):\n" + "\n".join(wrong)


def _is_marked(node) -> bool:
    return isinstance(node, ast.Call) and _name(node.func) == "N_" and _is_literal(node.args[0])


def _module_msgids(tree) -> set[str]:
    """Module-level constants bound to an ``N_`` literal (``ZIP_BOMB = N_("…")``, or registered: ``known(N_("…"))``)."""
    return {
        target.id
        for stmt in tree.body
        if isinstance(stmt, ast.Assign)
        and (
            _is_marked(stmt.value)
            or (isinstance(stmt.value, ast.Call) and any(map(_is_marked, stmt.value.args)))
        )
        for target in stmt.targets
        if isinstance(target, ast.Name) and target.id.isupper()
    }


def test_every_domain_error_carries_a_literal_msgid():
    domain_errors = _domain_error_names()
    wrong = []
    files = list(_python_files())
    by_module = {Path(rel).stem: _module_msgids(tree) for rel, tree in files}
    for rel, tree in files:
        constants = by_module[Path(rel).stem]
        for call in ast.walk(tree):
            if not (isinstance(call, ast.Call) and _name(call.func) in domain_errors and call.args):
                continue
            first = call.args[0]
            marked = (
                _is_marked(first)
                or (isinstance(first, ast.Name) and first.id in constants)
                or (
                    isinstance(first, ast.Attribute)
                    and isinstance(first.value, ast.Name)
                    and first.attr in by_module.get(first.value.id, ())
                )
            )
            if not (marked or _is_literal(first)):
                wrong.append(f"{rel}:{call.lineno}: {ast.unparse(call)}")
    assert not wrong, "a DomainError message is translated later, so it must be an N_ literal:\n" + "\n".join(
        wrong
    )


def test_markup_is_built_only_where_it_is_made_of_escaped_parts():
    wrong = []
    for rel, tree in _python_files():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node.func) in {"Markup", "render_template_string"}:
                if rel not in MARKUP_ALLOWED or _name(node.func) != "Markup":
                    wrong.append(f"{rel}:{node.lineno}: {ast.unparse(node)}")
            elif isinstance(node, ast.FunctionDef) and node.name == "__html__":
                wrong.append(f"{rel}:{node.lineno}: defines __html__ (its text would never be escaped)")
            elif isinstance(node, ast.keyword) and node.arg == "autoescape":
                # autoescape=True (Jinja's, or SQLAlchemy's LIKE escaping) escapes more, never less.
                if not (isinstance(node.value, ast.Constant) and node.value.value is True):
                    wrong.append(f"{rel}: sets autoescape")
            elif isinstance(node, ast.Attribute) and node.attr in {"autoescape", "from_string"}:
                wrong.append(f"{rel}:{node.lineno}: {ast.unparse(node)}")
    assert not wrong, "markup built from what may be data:\n" + "\n".join(wrong)


def _templates(app):
    for path in sorted(p for p in TEMPLATES.rglob("*") if p.is_file()):
        name = str(path.relative_to(TEMPLATES))
        yield name, app.jinja_env.parse(path.read_text())


def test_templates_hand_gettext_only_literal_msgids(app):
    wrong = []
    for name, tree in _templates(app):
        for call in tree.find_all(nodes.Call):
            if isinstance(call.node, nodes.Name) and call.node.name in GETTEXT:
                count = MSGID_ARGS.get(call.node.name, 1)
                if not all(
                    isinstance(a, nodes.Const) and isinstance(a.value, str) for a in call.args[:count]
                ):
                    wrong.append(f"{name}:{call.lineno}")
    assert not wrong, (
        "a template translates something that is not a literal; Jinja's _() marks its result safe, so "
        "data would be printed as HTML. Print the value, or translate a code table by key in Python: "
        + ", ".join(wrong)
    )


def test_templates_never_mark_anything_safe_nor_turn_escaping_off(app):
    wrong = []
    for name, tree in _templates(app):
        for f in tree.find_all(nodes.Filter):
            if f.name in {"safe", "forceescape"}:
                wrong.append(f"{name}:{f.lineno}: |{f.name}")
        for modifier in tree.find_all(nodes.EvalContextModifier):
            wrong.append(f"{name}:{modifier.lineno}: autoescape block")
        for call in tree.find_all(nodes.Call):
            if isinstance(call.node, nodes.Name) and call.node.name in {"Markup", "markup"}:
                wrong.append(f"{name}:{call.lineno}: Markup()")
        if not app.jinja_env.autoescape(name):
            if name not in NOT_AUTOESCAPED:
                wrong.append(f"{name}: not autoescaped (only .html/.xml templates are)")
                continue
            for out in tree.find_all(nodes.Output):
                for expr in out.nodes:
                    url = isinstance(expr, nodes.Call) and getattr(expr.node, "name", "") in {
                        "asset",
                        "url_for",
                    }
                    if not (
                        isinstance(expr, nodes.TemplateData) or url or getattr(expr, "name", "") == "version"
                    ):
                        wrong.append(f"{name}:{expr.lineno}: prints more than our URLs and the version")
    assert not wrong, "\n".join(wrong)


def test_the_allow_lists_are_still_needed(app):
    markup_users = {rel for rel, tree in _python_files() for n in ast.walk(tree) if _name(n) == "Markup"}
    assert set(MARKUP_ALLOWED) <= markup_users
    templates = {name for name, _tree in _templates(app)}
    assert set(NOT_AUTOESCAPED) <= templates


# --- the attacks ------------------------------------------------------------------------------

EVIL = "https://evil.example/"
# What the review saved: an element htmx would run on load, posting with the viewer's CSRF header.
HX_PAYLOAD = (
    '<div hx-post="/admin/pengguna" hx-trigger="load" hx-vals=\'{"name": "Penyusup", '
    '"email": "penyusup@evil.example", "password": "penyusup-rahasia-1", "role": "superadmin"}\'>'
    "Syarat lengkap</div>"
)
# Out of <title> and off to another site.
META_PAYLOAD = f'</title><meta http-equiv=refresh content="0;url={EVIL}">'
# Field and document labels hold 120 characters.
SHORT_HX = '<div hx-post="/admin/pengguna" hx-trigger="load">x</div>'
META_OPTION = f'<meta http-equiv=refresh content="0;url={EVIL}">'
# Attributes a browser or htmx acts on (a form field's value, a title or an alt text are only read).
FOLLOWED = {"content", "href", "src", "srcset", "action", "formaction", "http-equiv", "data", "poster"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Page(HTMLParser):
    """Tags, attributes and text nodes (with the elements around each) of a page, as a browser parses it."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.texts: list[tuple[str, list[tuple[str, dict]]]] = []
        self._open: list[tuple[str, dict]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        attributes = {k: v or "" for k, v in attrs}
        self.tags.append((tag, attributes))
        if tag not in VOID:
            self._open.append((tag, attributes))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag):
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i][0] == tag:
                del self._open[i:]
                return

    def handle_data(self, data):
        self.texts.append((data, list(self._open)))

    @property
    def text(self) -> str:
        return "".join(t for t, _around in self.texts)


def assert_inert(html: str, where: str) -> Page:
    """Nothing typed became an element or an attribute: no htmx trigger, no redirect, no foreign URL."""
    assert "<div hx-post" not in html and "<meta http-equiv=refresh" not in html, where
    page = Page(html)
    for tag, attributes in page.tags:
        assert attributes.get("hx-post") != "/admin/pengguna", (where, tag, attributes)
        assert "hx-vals" not in attributes, (where, tag, attributes)
        followed = {k: v for k, v in attributes.items() if k in FOLLOWED or k.startswith(("hx-", "data-hx-"))}
        if tag == "meta" and "http-equiv" not in attributes:
            followed.pop("content", None)  # a description for link previews, read as text
        assert not any("evil.example" in value for value in followed.values()), (where, tag, attributes)
    return page


def assert_free_text_is_fenced(page: Page, marker: str, where: str) -> None:
    """Every text node holding ``marker`` sits inside an element with hx-disable (or in a form control)."""
    seen = False
    for text, around in page.texts:
        if marker not in text:
            continue
        seen = True
        tags = {tag for tag, _attributes in around}
        if tags & {"title", "textarea", "option"}:
            continue
        assert any("hx-disable" in attributes for _tag, attributes in around), (where, text[:60], around[-1])
    assert seen, f"{where}: {marker[:30]!r} is not shown at all"


def _hanura_service(code: str) -> Service:
    return db.session.scalar(
        select(Service)
        .join(Village, Village.id == Service.village_id)
        .where(Village.slug == "hanura", Service.code == code)
    )


def _plant_in_domisili(client, auth) -> Service:
    """As Hanura's operator, save the payloads into the residence letter's name, text, labels, options."""
    service = _hanura_service("domisili")
    auth.login("operator.hanura@balai.test")
    url = f"/kantor/layanan/{service.id}"
    fields = [
        f"tempat_lahir | {SHORT_HX} | text | wajib",
        "pekerjaan | Pekerjaan | text | wajib",
        "alamat | Alamat | textarea | wajib",
        f"jenis | Jenis {META_OPTION} | select | wajib | {META_OPTION}, Biasa",
    ]
    response = client.post(
        url,
        data={
            "csrf_token": csrf_from(client.get(url).get_data(as_text=True)),
            "name": "Surat Domisili " + META_PAYLOAD,
            "code": "domisili",
            "kind": "letter",
            "description": HX_PAYLOAD + META_PAYLOAD,
            "sla_days": "2",
            "fee": "0",
            "classification_code": "470",
            "fields_text": "\n".join(fields),
            "documents_text": f"ktp | {SHORT_HX} | wajib\nkk | Foto KK | wajib",
            "letter_template": service.letter_template,
            "position": "0",
        },
    )
    assert response.status_code in (302, 303), response.get_data(as_text=True)
    auth.logout()
    db.session.expire_all()
    return _hanura_service("domisili")


def _get(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def test_what_an_operator_types_into_a_service_is_shown_escaped_on_every_page(client, auth, demo):
    from tests.test_residents import _unescape, answers, form_page, hidden_fields

    _plant_in_domisili(client, auth)
    users_before = db.session.scalar(select(func.count()).select_from(User))

    # A resident: the list, the form (its <title> too), in both languages.
    for lang in ("id", "en"):
        page = assert_inert(_get(client, f"/desa/hanura/layanan?lang={lang}"), f"service list {lang}")
        assert HX_PAYLOAD in page.text and "Surat Domisili " + META_PAYLOAD in page.text
        assert_free_text_is_fenced(page, HX_PAYLOAD, "service list")
        page = assert_inert(_get(client, f"/desa/hanura/layanan/domisili?lang={lang}"), f"form {lang}")
        title = next(t for t, around in page.texts if around and around[-1][0] == "title")
        assert title.startswith("Surat Domisili " + META_PAYLOAD)
        assert {SHORT_HX, META_OPTION, "Jenis " + META_OPTION} <= {t.strip() for t, _a in page.texts}
        assert_free_text_is_fenced(page, HX_PAYLOAD, "form")
    client.get("/?lang=id")

    # The check step, then the receipt and every page that tracks the request.
    csrf, key = form_page(client, "hanura", "domisili")
    checked = client.post(
        "/desa/hanura/layanan/domisili",
        data=answers(csrf, key, d_jenis=META_OPTION, purpose=HX_PAYLOAD),
        content_type="multipart/form-data",
    )
    assert checked.status_code == 200, checked.get_data(as_text=True)
    page = assert_inert(checked.get_data(as_text=True), "check step")
    assert META_OPTION in page.text and SHORT_HX in page.text
    assert_free_text_is_fenced(page, HX_PAYLOAD, "check step")
    sent = client.post(
        "/desa/hanura/layanan/domisili",
        data={**_unescape(hidden_fields(checked.get_data(as_text=True))), "step": "send"},
    )
    assert sent.status_code == 303
    req = db.session.scalars(select(ServiceRequest).order_by(ServiceRequest.id.desc())).first()
    assert req.data["jenis"] == META_OPTION  # the answer is kept as chosen
    code = req.tracking_code
    for url in (f"/tanda-terima/{code}", f"/tanda-terima/{code}/cetak", f"/lacak/{code}", "/saya"):
        assert "Surat Domisili " + META_PAYLOAD in assert_inert(_get(client, url), url).text
    assert_inert(_get(client, f"/saya/status?kode={code}"), "/saya/status")

    # The village asks for a fix, with a note that carries the payload as well.
    auth.login("operator.hanura@balai.test")
    detail = _get(client, f"/kantor/permohonan/{req.id}")
    page = assert_inert(detail, "request detail")
    assert_free_text_is_fenced(page, HX_PAYLOAD, "request detail")
    response = client.post(
        f"/kantor/permohonan/{req.id}/aksi",
        data={
            "csrf_token": csrf_from(detail),
            "action": "request_fix",
            "note": HX_PAYLOAD,
            "version": req.version,
        },
    )
    assert response.status_code in (302, 303)
    for url in (
        "/kantor/",
        f"/kantor/permohonan/{req.id}",
        f"/lacak/{code}",
        "/kantor/layanan",
        f"/kantor/layanan/{req.service_id}",
        f"/kantor/loket?layanan={req.service_id}",
        "/kantor/laporan",
    ):
        page = assert_inert(_get(client, url), url)
        if url in (f"/kantor/permohonan/{req.id}", f"/lacak/{code}"):
            assert_free_text_is_fenced(page, HX_PAYLOAD, url)
    auth.logout()

    from app.residents.receipts import unseal

    private = unseal(*next(iter(_receipts(client).items())))  # the session keeps the link sealed
    page = assert_inert(_get(client, f"/permohonan/{private}"), "private page")
    assert SHORT_HX in page.text  # the field and document labels of the fix form
    assert_free_text_is_fenced(page, HX_PAYLOAD, "private page")
    page = assert_inert(_get(client, f"/lacak/{code}"), "public tracking")
    assert_free_text_is_fenced(page, HX_PAYLOAD, "public tracking")

    # Region dashboards list the services by name.
    for url in ("/wilayah/18.09.10.2004", "/wilayah/18.09", "/desa/hanura/"):
        assert_inert(_get(client, url), url)

    # A superadmin and another village's operator open the list: htmx is loaded for them.
    for email in ("admin@balai.test", "operator.trimulyo@balai.test"):
        auth.login(email)
        page = assert_inert(_get(client, "/desa/hanura/layanan"), f"service list as {email}")
        assert_free_text_is_fenced(page, HX_PAYLOAD, "service list")
        auth.logout()
    assert db.session.scalar(select(func.count()).select_from(User)) == users_before


def _receipts(client) -> dict:
    with client.session_transaction() as session:
        return dict(session.get("receipts", {}))


@pytest.fixture
def bumdes_text(demo):
    """Free text in every BUMDes and village-profile field that residents and buyers read."""
    from app.models.bumdes import Bumdes, Order, Product
    from app.models.profile import Announcement, Project, VillageProfile

    hanura = db.session.scalar(select(Village).where(Village.slug == "hanura"))
    product = db.session.scalars(
        select(Product).where(Product.village_id == hanura.id, Product.published.is_(True))
    ).first()
    bumdes = db.session.get(Bumdes, product.bumdes_id)
    announcement = db.session.scalars(
        select(Announcement).where(Announcement.village_id == hanura.id).order_by(Announcement.id)
    ).first()
    for row, columns in (
        (product, ("description",)),
        (bumdes, ("description", "payment_info")),
        (
            db.session.scalar(select(VillageProfile).where(VillageProfile.village_id == hanura.id)),
            ("description", "potential"),
        ),
        (announcement, ("body",)),
        (
            db.session.scalars(select(Project).where(Project.village_id == hanura.id)).first(),
            ("description",),
        ),
        (db.session.scalars(select(Order).where(Order.bumdes_id == bumdes.id)).first(), ("note", "address")),
    ):
        assert row is not None
        for column in columns:
            setattr(row, column, HX_PAYLOAD)
    db.session.commit()
    return product, bumdes, announcement


def test_free_text_of_shops_orders_and_village_pages_is_escaped_and_fenced_from_htmx(
    client, auth, bumdes_text
):
    product, bumdes, announcement = bumdes_text
    pages = [
        f"/produk/{product.id}-{product.slug}",
        "/desa/hanura/produk",
        "/desa/hanura/",
        f"/desa/hanura/pengumuman/{announcement.id}",
    ]
    for url in pages:
        assert_free_text_is_fenced(assert_inert(_get(client, url), url), HX_PAYLOAD, url)
    auth.login("bumdes.hanura@balai.test")
    url = f"/bumdes/{bumdes.id}/pesanan?status=semua"
    orders = _get(client, url)
    assert_free_text_is_fenced(assert_inert(orders, url), HX_PAYLOAD, url)


def test_htmx_runs_only_what_the_server_wrote(client, demo):
    html = _get(client, "/")  # the village search: a page with htmx
    meta = next(a for tag, a in Page(html).tags if tag == "meta" and a.get("name") == "htmx-config")
    config = json.loads(meta["content"])
    assert config["selfRequestsOnly"] is True  # no request to another origin, whatever an attribute says
    assert config["allowEval"] is False  # no hx-on / js: expressions
    assert config["allowScriptTags"] is False  # a swapped <script> never runs
    assert config["historyCacheSize"] == 0  # no copy of a page in localStorage
    assert config["historyRestoreAsHxRequest"] is False  # Back gets the whole page, not a fragment
    # The vendored htmx reads these names (and hx-disable) in this version.
    vendored = (APP_DIR / "static/vendor/htmx.min.js").read_text()
    for option in ("selfRequestsOnly", "allowEval", "allowScriptTags", "historyCacheSize", "[hx-disable]"):
        assert option in vendored, option


def browser_login(page, base: str, email: str) -> None:
    page.goto(base + "/akun/masuk")
    page.fill("[name=email]", email)
    page.fill("[name=password]", DEMO_PASSWORD)
    with page.expect_navigation():
        page.click("form button")
    assert "/akun/masuk" not in page.url


@pytest.mark.browser
def test_a_superadmin_opening_a_poisoned_service_list_creates_no_account(
    app, client, auth, demo, live_server, page
):
    _plant_in_domisili(client, auth)
    users_before = db.session.scalar(select(func.count()).select_from(User))
    posts, elsewhere = [], []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    # The injected refresh would leave for evil.example: keep the test off the internet, and note it.

    def local_only(route):
        if route.request.url.startswith(live_server):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", local_only)
    browser_login(page, live_server, "admin@balai.test")
    posts.clear()

    page.goto(live_server + "/desa/hanura/layanan")
    page.wait_for_timeout(1500)  # htmx's "load" trigger and a 0-second refresh both fire well within this

    db.session.expire_all()
    assert db.session.scalar(select(User).where(User.email == "penyusup@evil.example")) is None
    assert db.session.scalar(select(func.count()).select_from(User)) == users_before
    assert posts == [], "the page posted on its own"
    assert elsewhere == [], "the page went to another site"
    assert page.url == live_server + "/desa/hanura/layanan"
    assert page.evaluate("typeof htmx") == "object"  # htmx does run here, for a signed-in superadmin
    assert page.get_by_text(HX_PAYLOAD, exact=False).count() == 1  # shown, as text
