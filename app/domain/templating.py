"""The placeholder syntax of letter templates: {{ nama }} and nothing else, substituted, never evaluated."""

import re
from collections.abc import Iterable, Mapping

from app.domain.errors import N_, DomainError

IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*", re.ASCII)

# Non-greedy and across lines, so "{{ a }} x {{ b }}" gives two candidates and a stray "{{" swallows no text.
_CANDIDATE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_INSIDE = re.compile(r"\s*([a-z_][a-z0-9_]*)\s*", re.ASCII)
_CODE_MARKERS = ("{%", "%}", "{#", "#}")
_SNIPPET_CHARS = 40


def _snippet(text: str, start: int, end: int) -> str:
    piece = text[start:end]
    if len(piece) > _SNIPPET_CHARS:
        piece = piece[: _SNIPPET_CHARS - 1] + "…"
    return piece


def find_placeholders(text: str) -> list[str]:
    """Names of the well-formed placeholders in ``text``, each once, in order of first use."""
    names = (_INSIDE.fullmatch(match.group(1)) for match in _CANDIDATE.finditer(text))
    return list(dict.fromkeys(inside.group(1) for inside in names if inside))


def _check_syntax(text: str) -> list[tuple[str, str]]:
    """Refuse anything but plain placeholders; return (name, as written) for each placeholder."""
    for marker in _CODE_MARKERS:
        position = text.find(marker)
        if position != -1:
            raise DomainError(
                N_(
                    "Templat tidak boleh berisi perintah seperti %(snippet)s; "
                    "hanya isian seperti {{ nama }} yang boleh."
                ),
                snippet=_snippet(text, max(0, position - 10), position + 20).strip(),
            )
    found: list[tuple[str, str]] = []
    leftovers: list[str] = []
    last = 0
    for match in _CANDIDATE.finditer(text):
        leftovers.append(text[last : match.start()])
        last = match.end()
        written = match.group(0)
        inside = _INSIDE.fullmatch(match.group(1))
        if inside is None:
            raise DomainError(
                N_(
                    "Isian %(snippet)s tidak boleh. Di dalam {{ }} hanya boleh satu nama isian "
                    "dari huruf kecil, angka dan garis bawah, misalnya {{ nama_lengkap }}."
                ),
                snippet=_snippet(text, match.start(), match.end()),
            )
        name = inside.group(1)
        if name.startswith("__"):
            raise DomainError(
                N_("Isian %(snippet)s tidak boleh: nama isian tidak boleh diawali dua garis bawah."),
                snippet=written,
            )
        found.append((name, written))
    leftovers.append(text[last:])
    for piece in leftovers:
        for brace in ("{", "}"):
            position = piece.find(brace)
            if position != -1:
                raise DomainError(
                    N_(
                        "Kurung kurawal tidak berpasangan di sekitar %(snippet)s. "
                        "Tulis isian dengan dua kurung di setiap sisi, misalnya {{ nama }}."
                    ),
                    snippet=_snippet(piece, max(0, position - 15), position + 15).strip(),
                )
    return found


def validate_template(text: str, allowed: Iterable[str]) -> None:
    """Raise DomainError if ``text`` holds anything but placeholders whose names are in ``allowed``."""
    allowed_names = frozenset(allowed)
    for name, written in _check_syntax(text):
        if name not in allowed_names:
            raise DomainError(
                N_("Isian %(placeholder)s tidak dikenal. Isian yang bisa dipakai: %(allowed)s."),
                placeholder=written,
                allowed=", ".join(sorted(allowed_names)) or "-",
            )


def render_text(text: str, values: Mapping[str, str]) -> str:
    """Replace each {{ name }} with ``values[name]`` taken literally; a missing value raises DomainError."""
    replacements: dict[str, str] = {}
    for name, written in _check_syntax(text):
        value = values.get(name)
        if value is None:
            raise DomainError(N_("Isian %(placeholder)s belum punya nilai."), placeholder=written)
        replacements[written] = str(value)
    # One pass with a function replacement: values are inserted as-is and never scanned again.
    return _CANDIDATE.sub(lambda match: replacements[match.group(0)], text)
