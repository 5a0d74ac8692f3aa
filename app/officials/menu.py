"""The workbench menu of a village's own officials: the same links and words for every one of them."""

from __future__ import annotations

from flask import request
from flask_babel import get_locale
from markupsafe import Markup

from app.datacache import render_whole

_rendered: dict[tuple[str, str], Markup] = {}


def officials_menu() -> Markup:
    """The menu, rendered once a process per language and mount point.

    Its nine links and words change only with a new release, and it holds nothing of who is signed
    in or of any data; rendered on every page it cost as much as a page's queue rows.
    """
    key = (str(get_locale()), request.script_root)
    menu = _rendered.get(key)
    if menu is None:
        menu = _rendered[key] = render_whole("officials/_menu.html", {})
    return menu
