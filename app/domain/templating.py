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


# What a resident types is a phrase, but it lands in the middle of the office's sentence:
# "dibuat untuk keperluan {{ keperluan }}." must not read "keperluan Untuk melamar kerja.." .
_LEADS = ("untuk keperluan", "keperluan", "untuk", "guna")
_LEAD_WORDS = re.compile(r"(?:untuk|keperluan|guna)\s*:?\s*$", re.IGNORECASE)
_SENTENCE_GOES_ON = re.compile(r"[\w,)]\s+$")  # a word or comma, then a space: mid-sentence
_WORD = re.compile(r"\S+")


def _sentence_case_word(word: str) -> bool:
    """A capitalised ordinary word ("Warung"), not an acronym (KTP, RT) nor a number."""
    return len(word) >= 2 and word.isalpha() and word[0].isupper() and word[1:].islower()


def fit_value(value: str, before: str, after: str, *, phrase: bool = False) -> str:
    """``value`` typed by a resident, worded to continue the template's sentence around it.

    - leading "untuk"/"keperluan" are dropped after a template that already says it;
    - trailing periods go when the sentence goes on (the template has its own punctuation);
    - the first letter is lowered mid-sentence when the value reads as an ordinary phrase: a
      sentence-case phrase ("Warung kelontong"), or any capitalised word in a ``phrase`` field
      (keperluan, jenis usaha...). Names ("Jalan Raya Hanura", "RSUD Pesawaran") stay as typed.
    """
    text = " ".join(value.split())
    line_before = before.rsplit("\n", 1)[-1]
    line_after = after.split("\n", 1)[0]
    if _LEAD_WORDS.search(line_before):
        lowered = text.lower()
        for lead in _LEADS:
            if lowered.startswith(lead + " ") and len(text) > len(lead) + 1:
                text = text[len(lead) :].lstrip(" :")
                break
    if line_after.strip():
        text = text.rstrip(" .")
    if _SENTENCE_GOES_ON.search(line_before):
        words = _WORD.findall(text)
        if words and _sentence_case_word(words[0]):
            rest = [w for w in words[1:] if any(ch.isalpha() for ch in w)]
            ordinary = bool(rest) and all(w == w.lower() for w in rest)
            if ordinary or phrase:
                text = text[0].lower() + text[1:]
    return text


def render_text(text: str, values: Mapping[str, str], *, phrases: Iterable[str] = ()) -> str:
    """Replace each {{ name }} with ``values[name]``; a missing value raises DomainError.

    Values are inserted as text, never scanned again. Those named in ``phrases`` (what residents
    typed) are first fitted to the sentence around them (``fit_value``); the others are taken as-is.
    """
    fitted = frozenset(phrases)
    for name, written in _check_syntax(text):
        if values.get(name) is None:
            raise DomainError(N_("Isian %(placeholder)s belum punya nilai."), placeholder=written)

    def replace(match: re.Match) -> str:
        name = _INSIDE.fullmatch(match.group(1)).group(1)
        value = str(values[name])
        if name not in fitted:
            return value
        before, after = text[: match.start()], text[match.end() :]
        return fit_value(value, before, after, phrase=name in _PHRASE_FIELDS)

    return _CANDIDATE.sub(replace, text)


# Fields whose answer is an ordinary phrase wherever it appears (a single word too: "Bengkel").
_PHRASE_FIELDS = frozenset({"keperluan", "jenis_usaha", "pekerjaan", "sebab", "hubungan"})
