"""Translating what the code wrote, by key; never what a person typed.

Whatever goes through gettext is treated as markup: Jinja's ``_()`` wraps its result in ``Markup``
and Flask-Babel's lazy strings declare themselves HTML (``__html__``), so neither is escaped again.
gettext therefore only ever sees msgids the code wrote: string literals, or the entries of
module-level tables of ``N_`` literals (status labels, roles, categories, the built-in service
catalogue), chosen here by key. A service name, a label or an option an operator typed is shown as
typed, escaped like any other text. ``tests/test_security_render.py`` fails when gettext is handed
anything else.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping

from flask_babel import LazyString, gettext

from app.caching import request_translations
from app.domain.states import (
    ACTIONS,
    COMPLAINT,
    COMPLAINT_ACTION_LABELS,
    COMPLAINT_STATUS_LABELS,
    STATUS_LABELS,
)

Table = Mapping[Hashable, str] | Iterable[tuple[Hashable, str]]


def _entries(table: Table) -> Mapping[Hashable, str]:
    return table if isinstance(table, Mapping) else dict(table)


def coded(table: Table, key: Hashable) -> str:
    """The translation of ``table[key]``, ``table`` being a module-level table of msgids; else ``key``."""
    msgid = _entries(table).get(key)
    if msgid is None:
        return "" if key is None else str(key)
    # A msgid from the code's own table, chosen by key (see the module docstring); Flask-Babel's
    # gettext() without variables, from the catalogue looked up once per request (a status page
    # shows a dozen labels).
    return request_translations().ugettext(msgid)


def translated(table: Table) -> dict:
    """Every entry of a module-level table of msgids, translated: ``{key: text}`` in table order."""
    return {key: gettext(msgid) for key, msgid in _entries(table).items()}


def lazy_coded(table: Table, key: Hashable) -> LazyString:
    """:func:`coded`, translated when shown (for form classes built before any request)."""
    return LazyString(coded, table, key)


def status_label(status: str, kind: str | None = None) -> str:
    """A request's status for the reader's language, in the words of its kind (letter or complaint)."""
    if kind == COMPLAINT:
        return coded(COMPLAINT_STATUS_LABELS, status)
    return coded(STATUS_LABELS, status)


ACTION_LABELS: dict[str, str] = {name: action.label for name, action in ACTIONS.items()}


def action_label(action, kind: str | None = None) -> str:
    """The button text of a workflow action (anything with ``name``) on a request of ``kind``."""
    if kind == COMPLAINT and action.name in COMPLAINT_ACTION_LABELS:
        return coded(COMPLAINT_ACTION_LABELS, action.name)
    return coded(ACTION_LABELS, action.name)


def error_message(err) -> str:
    """A domain error's message for the reader's language (its msgid is an ``N_`` literal: tests check)."""
    return gettext(err.message, **err.params)


def known(msgids: Iterable[str], msgid: str | None, **params) -> str:
    """The translation of ``msgid`` if it is one of ``msgids`` (a module-level set of the code's own); else ''."""
    if msgid not in msgids:
        return ""
    return gettext(msgid, **params)
