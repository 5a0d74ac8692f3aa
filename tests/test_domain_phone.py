import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.errors import DomainError
from app.domain.phone import EXAMPLE, mask_phone, normalize_phone, wa_number


@pytest.mark.parametrize(
    "typed",
    [
        "081234567890",
        "0812-3456-7890",
        "0812 3456 7890",
        "0812.3456.7890",
        "(0812) 3456-7890",
        "6281234567890",
        "+6281234567890",
        "+62 812-3456-7890",
        "+62 (812) 3456 7890",
        "(+62) 812 3456 7890",
        "+62 0812 3456 7890",
        "0062 812 3456 7890",
        "81234567890",
        "812 3456 7890",
        "  0812 3456 7890  ",
    ],
)
def test_the_usual_ways_of_typing_a_mobile_number_give_e164(typed: str) -> None:
    assert normalize_phone(typed) == "+6281234567890"


def test_the_shortest_allowed_number_has_9_digits_after_the_country_code() -> None:
    assert normalize_phone("0812-345-678") == "+62812345678"


def test_the_longest_allowed_number_has_12_digits_after_the_country_code() -> None:
    assert normalize_phone("0812-3456-78901") == "+62812345678901"


def refusal(typed: str) -> DomainError:
    with pytest.raises(DomainError) as caught:
        normalize_phone(typed)
    assert str(caught.value)
    return caught.value


def test_a_number_that_is_too_short_is_refused_with_an_example() -> None:
    error = refusal("0812-345-67")
    assert "terlalu pendek" in error.message
    assert error.params["example"] == EXAMPLE


def test_a_number_that_is_too_long_is_refused_with_an_example() -> None:
    error = refusal("0812-3456-789012")
    assert "terlalu panjang" in error.message
    assert error.params["example"] == EXAMPLE


@pytest.mark.parametrize("typed", ["021-555-1234", "+62 21 5551 2345", "0721 123456", "91234567890"])
def test_a_number_that_is_not_a_mobile_number_is_refused(typed: str) -> None:
    assert "diawali 08" in refusal(typed).message


@pytest.mark.parametrize("typed", ["+1 555 123 4567", "+60 12-345 6789", "0060 12 345 6789"])
def test_a_foreign_number_is_refused(typed: str) -> None:
    assert "Indonesia" in refusal(typed).message


@pytest.mark.parametrize(
    ("typed", "char"), [("0812-3456-789O", "O"), ("nomor saya", "n"), ("0812+3456", "+")]
)
def test_letters_and_other_signs_are_refused_naming_the_character(typed: str, char: str) -> None:
    error = refusal(typed)
    assert error.params["char"] == char
    assert error.params["example"] == EXAMPLE


def test_an_empty_number_is_refused_as_not_filled_in() -> None:
    assert "belum diisi" in refusal(" - ").message


def test_every_refusal_offers_a_valid_example() -> None:
    for typed in ["", "abc", "+1 555", "021 555", "0812", "0812345678901234"]:
        assert refusal(typed).params["example"] == EXAMPLE
    assert normalize_phone(EXAMPLE) == "+6281234567890"


def test_mask_phone_hides_the_middle_digits() -> None:
    assert mask_phone("+6281234567890") == "+62 812-****-7890"


def test_mask_phone_keeps_the_shape_of_shorter_numbers() -> None:
    assert mask_phone("+62812345678") == "+62 812-**-5678"


def test_wa_number_is_digits_only_without_the_plus() -> None:
    assert wa_number("+6281234567890") == "6281234567890"


NATIONAL = st.from_regex(r"8[0-9]{8,11}", fullmatch=True)
SEPARATOR = st.sampled_from(["", " ", "-", ".", " - "])


@given(
    national=NATIONAL,
    prefix=st.sampled_from(["0", "62", "+62", "+62 ", "+62 0", "0062", "", "(0", "+62 ("]),
    separators=st.lists(SEPARATOR, min_size=12, max_size=12),
)
def test_any_mobile_number_typed_with_any_prefix_and_separators_normalizes(
    national: str, prefix: str, separators: list[str]
) -> None:
    body = "".join(digit + sep for digit, sep in zip(national, separators, strict=False))
    if prefix.endswith("("):
        body = body[:3] + ")" + body[3:]
    e164 = normalize_phone(prefix + body)
    assert e164 == "+62" + national
    assert normalize_phone(e164) == e164
    assert wa_number(e164) == "62" + national
    masked = mask_phone(e164)
    assert masked.startswith("+62 " + national[:3] + "-")
    assert masked.endswith("-" + national[-4:])
    assert len(masked) == len(e164) + 3


@given(st.text())
def test_any_text_either_normalizes_to_a_mobile_number_or_raises_a_domain_error(raw: str) -> None:
    try:
        e164 = normalize_phone(raw)
    except DomainError as error:
        assert str(error)
    else:
        assert e164.startswith("+628")
        assert e164[1:].isdigit()
        assert 9 <= len(e164) - 3 <= 12
