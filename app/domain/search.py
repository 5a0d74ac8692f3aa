"""Finding a village by what people type: its name, its kecamatan or kabupaten, with one typo forgiven.

Plain text in, plain text out; the query itself is built in app/public. Every active village keeps a
normalised ``search_text`` (" hanura teluk pandan pesawaran ", spaces around) and each typed word
must begin one of its words: LIKE '% word%'. When none matches, a word one typo away from a whole
word matches instead. A trigram index serves both on PostgreSQL.
"""

from __future__ import annotations

import re
import unicodedata

# Words people put before a name that the names themselves do not carry ("Desa Hanura", "Kab. Pesawaran").
NOISE_WORDS = frozenset(
    {
        "desa",
        "pekon",
        "kelurahan",
        "kel",
        "kampung",
        "kampong",
        "nagari",
        "gampong",
        "kecamatan",
        "kec",
        "kabupaten",
        "kab",
        "distrik",
    }
)
_PREFIX = re.compile(r"^kabupaten\s+|^kab\.?\s+", re.I)
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
MAX_WORDS = 5
MAX_WORD = 40
# A typo is forgiven only in words this long: "baru" with any letter changed matches half the map.
TYPO_MIN_LENGTH = 4


def fold(text: str) -> str:
    """Lowercase ASCII words separated by single spaces ("Ngaben-Rejo" -> "ngaben rejo")."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(_NOT_ALNUM.split(ascii_text.lower())).strip()


def search_text(village: str, district: str | None, regency: str | None) -> str:
    """What a village is found by: its name, its kecamatan and its kabupaten (without "Kabupaten")."""
    parts = [village, district or "", _PREFIX.sub("", regency or "")]
    return " " + " ".join(p for p in (fold(part) for part in parts) if p) + " "


def word_start(pattern: str) -> str:
    """The LIKE pattern that finds ``pattern`` at the start of a word of a search text."""
    return f"% {pattern}%"


def whole_word(pattern: str) -> str:
    """The LIKE pattern that finds ``pattern`` as a whole word of a search text."""
    return f"% {pattern} %"


def query_words(query: str) -> list[str]:
    """The words of a search worth matching: folded, without "desa", "pekon", "kecamatan", …"""
    words = [w[:MAX_WORD] for w in fold(query).split() if w not in NOISE_WORDS]
    return list(dict.fromkeys(words))[:MAX_WORDS]


def typo_patterns(word: str) -> list[str]:
    """LIKE patterns ('_' is any one letter) for the words one typo away from ``word``.

    A letter changed, one too many, one missing, or two neighbours swapped. Empty for short words.
    Matched as whole words (``whole_word``): a typo and an unfinished word together guess too wildly.
    """
    if len(word) < TYPO_MIN_LENGTH:
        return []
    n = len(word)
    found = [word[:i] + "_" + word[i + 1 :] for i in range(n)]  # changed
    found += [word[:i] + "_" + word[i:] for i in range(n + 1)]  # one too few typed
    found += [word[:i] + word[i + 1 :] for i in range(n)]  # one too many typed
    found += [word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(n - 1)]  # swapped
    return list(dict.fromkeys(found))
