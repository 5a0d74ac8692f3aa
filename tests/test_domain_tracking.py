import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.errors import DomainError
from app.domain.tracking import (
    ALPHABET,
    BITS,
    LENGTH,
    is_tracking_code,
    new_secret_token,
    new_tracking_code,
    normalize_tracking_code,
    token_digest,
    tracking_key,
)

CANONICAL = re.compile(rf"[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}-[{ALPHABET}]{{2}}")


def test_the_alphabet_has_no_characters_that_are_easy_to_confuse() -> None:
    assert not set("0O1ILU") & set(ALPHABET)
    assert not set("S5Z2B8") & set(ALPHABET)


@pytest.mark.parametrize(
    ("stored", "typed"),
    [("7KQS-MX9D-4T", "7kq5 mx9d 4t"), ("7KQ5-MX9D-4T", "7KQS-MX9D-4T"), ("Z7B2-MX9D-48", "2782mx9d4b")],
)
def test_look_alikes_typed_either_way_give_the_same_key(stored: str, typed: str) -> None:
    assert tracking_key(normalize_tracking_code(typed)) == tracking_key(stored)


def test_codes_that_differ_in_more_than_look_alikes_keep_different_keys() -> None:
    assert tracking_key("7KQS-MX9D-4T") != tracking_key("7KQA-MX9D-4T")


def test_the_alphabet_is_uppercase_letters_and_digits_without_repeats() -> None:
    assert ALPHABET.upper() == ALPHABET
    assert ALPHABET.isalnum()
    assert len(set(ALPHABET)) == len(ALPHABET) == 24


def test_codes_carry_at_least_40_bits_of_randomness() -> None:
    assert math.floor(LENGTH * math.log2(len(ALPHABET))) == BITS
    assert BITS >= 40


def test_a_new_code_is_grouped_4_4_2() -> None:
    for _ in range(200):
        assert CANONICAL.fullmatch(new_tracking_code())


def test_new_codes_do_not_repeat() -> None:
    codes = {new_tracking_code() for _ in range(2000)}
    assert len(codes) == 2000


def test_new_codes_use_every_character_of_the_alphabet() -> None:
    seen = set("".join(new_tracking_code() for _ in range(500)).replace("-", ""))
    assert seen == set(ALPHABET)


def test_a_new_code_is_already_in_normal_form() -> None:
    code = new_tracking_code()
    assert normalize_tracking_code(code) == code
    assert is_tracking_code(code)


@pytest.mark.parametrize(
    "typed",
    [
        "7KQ2-MX9D-4T",
        "7kq2-mx9d-4t",
        "7KQ2MX9D4T",
        " 7kq2 mx9d 4t ",
        "7KQ2 – MX9D – 4T",
        "7-K-Q-2-M-X-9-D-4-T",
    ],
)
def test_case_spaces_and_dashes_do_not_matter(typed: str) -> None:
    assert normalize_tracking_code(typed) == "7KQ2-MX9D-4T"


@pytest.mark.parametrize(
    ("typed", "char"), [("7KQ0-MX9D-4T", "0"), ("7KQO-MX9D-4T", "O"), ("7kqo-mx9d-4t", "O")]
)
def test_zero_and_letter_o_are_refused_rather_than_guessed(typed: str, char: str) -> None:
    with pytest.raises(DomainError) as caught:
        normalize_tracking_code(typed)
    assert caught.value.message.startswith("Kode lacak tidak dikenali")
    assert caught.value.params == {"char": char}


@pytest.mark.parametrize("char", ["1", "I", "L", "U", "i", "l", "u"])
def test_one_i_l_and_u_are_refused_naming_the_character(char: str) -> None:
    with pytest.raises(DomainError) as caught:
        normalize_tracking_code("7KQ2-MX9D-4" + char)
    assert caught.value.params == {"char": char.upper()}
    assert str(caught.value)


@pytest.mark.parametrize("typed", ["7KQ2#MX9D4T", "7KQ2/MX9D/4T", "7KQ2.MX9D.4T"])
def test_other_signs_are_refused(typed: str) -> None:
    with pytest.raises(DomainError, match="Kode lacak tidak dikenali"):
        normalize_tracking_code(typed)


@pytest.mark.parametrize(("typed", "n"), [("7KQ2-MX9D", 8), ("7KQ2-MX9D-4TA", 11)])
def test_a_code_of_the_wrong_length_is_refused_saying_how_many_were_typed(typed: str, n: int) -> None:
    with pytest.raises(DomainError) as caught:
        normalize_tracking_code(typed)
    assert caught.value.message.startswith("Kode lacak tidak dikenali")
    assert caught.value.params == {"n": n}


def test_an_empty_code_is_refused_as_not_filled_in() -> None:
    with pytest.raises(DomainError, match="belum diisi"):
        normalize_tracking_code(" - ")


@pytest.mark.parametrize("text", ["", "1809011211900001", "7KQ2-MX9D", "hello world", "7KQ0-MX9D-4T"])
def test_is_tracking_code_says_no_to_anything_else(text: str) -> None:
    assert not is_tracking_code(text)


def test_is_tracking_code_accepts_a_code_typed_loosely() -> None:
    assert is_tracking_code("7kq2 mx9d 4t")


@given(
    st.lists(st.sampled_from(ALPHABET), min_size=LENGTH, max_size=LENGTH),
    st.lists(st.sampled_from(["", " ", "-", "  ", " - "]), min_size=LENGTH, max_size=LENGTH),
    st.lists(st.booleans(), min_size=LENGTH, max_size=LENGTH),
)
def test_any_code_typed_in_any_case_with_any_separators_normalizes(
    chars: list[str], separators: list[str], lower: list[bool]
) -> None:
    typed = "".join(
        (c.lower() if low else c) + sep for c, sep, low in zip(chars, separators, lower, strict=True)
    )
    code = "".join(chars)
    assert normalize_tracking_code(typed) == f"{code[:4]}-{code[4:8]}-{code[8:]}"


@given(st.text())
def test_any_text_either_normalizes_to_a_canonical_code_or_raises_a_domain_error(raw: str) -> None:
    try:
        code = normalize_tracking_code(raw)
    except DomainError as error:
        assert str(error)
        assert not is_tracking_code(raw)
    else:
        assert CANONICAL.fullmatch(code)
        assert is_tracking_code(raw)


def test_secret_tokens_are_url_safe_and_carry_at_least_128_bits() -> None:
    token = new_secret_token()
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
    # Base64 carries 6 bits per character.
    assert len(token) * 6 >= 128


def test_secret_tokens_do_not_repeat() -> None:
    assert len({new_secret_token() for _ in range(1000)}) == 1000


def test_token_digest_is_the_sha256_hex_of_the_token() -> None:
    assert token_digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_token_digest_is_stable_and_differs_between_tokens() -> None:
    token = new_secret_token()
    assert token_digest(token) == token_digest(token)
    assert token_digest(token) != token_digest(token + "x")
    assert re.fullmatch(r"[0-9a-f]{64}", token_digest(token))
