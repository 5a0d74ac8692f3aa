"""Village search words: folding, the words people put before names, and one typo's patterns."""

from __future__ import annotations

import re

import pytest

from app.domain.search import fold, query_words, search_text, typo_patterns, whole_word


def like(pattern: str, text: str) -> bool:
    """SQL LIKE, as the database applies it to a search text."""
    regex = "".join("." if c == "_" else ".*" if c == "%" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.S) is not None


def test_a_village_is_found_by_its_name_kecamatan_and_kabupaten_without_the_word_kabupaten():
    assert search_text("Hanura", "Teluk Pandan", "Kabupaten Pesawaran") == " hanura teluk pandan pesawaran "
    assert search_text("Ngaben-Rejo", None, "Kota Metro") == " ngaben rejo kota metro "


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("Desa Hanura", ["hanura"]),
        ("Pekon Trimulyo", ["trimulyo"]),
        ("teluk pandan", ["teluk", "pandan"]),
        ("  PESAWARAN ", ["pesawaran"]),
        ("Kel. Way Halim, Kec. Kedaton", ["way", "halim", "kedaton"]),
        ("nagari gampong kampung kelurahan", []),
        ("Désa Hanura!", ["hanura"]),
    ],
)
def test_query_words_drop_the_words_put_before_names(typed, words):
    assert query_words(typed) == words


def test_one_typo_of_any_kind_is_covered_and_two_are_not():
    text = search_text("Hanura", "Teluk Pandan", "Kabupaten Pesawaran")
    for typo in ("hanra", "hanuura", "hamura", "hnaura", "psawaran"):
        assert any(like(whole_word(p), text) for p in typo_patterns(typo)), typo
    for far in ("hnra", "pwsawaren"):
        assert not any(like(whole_word(p), text) for p in typo_patterns(far)), far


def test_short_words_get_no_typo_patterns():
    assert typo_patterns("way") == []
    assert fold("Sukarame II") == "sukarame ii"
