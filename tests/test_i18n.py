"""English UI: ``?lang=en`` switches the language, and the English catalogue is complete.

The Indonesian strings are the msgids; app/translations/en/LC_MESSAGES/messages.po holds English.
`make translations` re-extracts messages.pot and merges it into the catalogue.
"""

from __future__ import annotations

import re
from gettext import GNUTranslations
from pathlib import Path

from babel.messages.pofile import read_po
from sqlalchemy import select

TRANSLATIONS = Path(__file__).resolve().parent.parent / "app" / "translations"
POT = TRANSLATIONS / "messages.pot"
PO = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"

# msgids that may stay untranslated (each with a reason); keep this empty or near-empty.
UNTRANSLATED_OK: dict[str, str] = {}

PLACEHOLDER = re.compile(r"%\(([^)]+)\)[sdif]")


def _catalog(path: Path):
    with path.open("rb") as fh:
        return read_po(fh)


def _ids(message) -> tuple[str, ...]:
    return message.id if isinstance(message.id, tuple) else (message.id,)


def _strings(message) -> tuple[str, ...]:
    return message.string if isinstance(message.string, tuple) else (message.string,)


def _placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


def test_indonesian_is_the_default(client):
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="id">' in html
    assert "Cari desa Anda" in html
    assert "Find your village" not in html


def test_lang_en_gives_english_and_sticks(client):
    html = client.get("/?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Find your village" in html
    assert "Cari desa Anda" not in html
    assert "Bahasa Indonesia" in html  # the way back

    again = client.get("/").get_data(as_text=True)
    assert "Find your village" in again

    back = client.get("/?lang=id").get_data(as_text=True)
    assert "Cari desa Anda" in back


def test_unknown_lang_falls_back_to_indonesian(client):
    html = client.get("/?lang=xx").get_data(as_text=True)
    assert "Cari desa Anda" in html


def test_service_names_from_the_catalogue_are_translated(client, demo):
    html = client.get("/desa/hanura/layanan?lang=en").get_data(as_text=True)
    assert "Surat Keterangan Domisili (certificate of residence)" in html
    assert "Services marked Free cost nothing at all." in html


def test_counts_take_the_right_english_plural(app, client, demo):
    from app.extensions import db
    from app.models import Service

    service = db.session.scalars(select(Service).where(Service.code == "domisili")).first()
    service.sla_days = 1
    db.session.commit()
    html = client.get("/desa/hanura/layanan?lang=en").get_data(as_text=True)
    assert "Done in about 1 working day " in html or "Done in about 1 working day<" in html
    assert "Done in about 1 working days" not in html
    assert re.search(r"Done in about [2-9]\d* working days", html)
    assert "1 hari kerja" in client.get("/desa/hanura/layanan?lang=id").get_data(as_text=True)


def test_every_msgid_has_an_english_translation():
    template = _catalog(POT)
    english = _catalog(PO)
    missing = []
    for message in template:
        if not message.id or message.id in UNTRANSLATED_OK:
            continue
        translated = english.get(message.id)
        if translated is None or translated.fuzzy or not all(_strings(translated)):
            missing.append(message.id)
    assert not missing, f"{len(missing)} msgids without English (run `make translations`): {missing[:20]}"


def test_allow_list_is_still_needed():
    template = _catalog(POT)
    stale = [msgid for msgid in UNTRANSLATED_OK if template.get(msgid) is None]
    assert not stale, f"no longer in messages.pot, drop from UNTRANSLATED_OK: {stale}"


def test_translations_keep_the_placeholders():
    wrong = []
    for message in _catalog(PO):
        if not message.id:
            continue
        wanted = _placeholders(_ids(message)[0])
        for string in _strings(message):
            if string and _placeholders(string) != wanted:
                wrong.append((message.id, string))
    assert not wrong, f"placeholders differ from the msgid: {wrong}"


def test_compiled_catalogue_matches_the_po():
    mo = PO.with_suffix(".mo")
    assert mo.exists(), "run `.venv/bin/pybabel compile -d app/translations -l en`"
    with mo.open("rb") as fh:
        compiled = GNUTranslations(fh)  # what the app reads at run time
    stale = []
    for message in _catalog(PO):
        if not message.id or message.fuzzy or not all(_strings(message)):
            continue
        if isinstance(message.id, tuple):
            singular, plural = message.id
            found = (compiled.ngettext(singular, plural, 1), compiled.ngettext(singular, plural, 2))
        else:
            found = (compiled.gettext(message.id),)
        if found != _strings(message):
            stale.append(message.id)
    assert not stale, f"messages.mo is out of date (pybabel compile): {stale[:20]}"
