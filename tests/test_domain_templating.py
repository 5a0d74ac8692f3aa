import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.errors import DomainError
from app.domain.templating import find_placeholders, fit_value, render_text, validate_template

LETTER = (
    "Yang bertanda tangan di bawah ini menerangkan bahwa {{ nama }} (NIK {{nik}}) adalah warga {{ desa }}."
)
FIELDS = {"nama", "nik", "desa", "tanggal"}


def test_find_placeholders_lists_each_name_once_in_order_of_use() -> None:
    assert find_placeholders(LETTER + " Hormat kami, {{ nama }}") == ["nama", "nik", "desa"]


def test_find_placeholders_skips_what_is_not_a_plain_placeholder() -> None:
    assert find_placeholders("{{ a.b }} {{ x|upper }} {{ ok }}") == ["ok"]


def test_whitespace_inside_the_braces_is_allowed() -> None:
    assert find_placeholders("{{nama}} {{  nik  }} {{\tdesa\n}}") == ["nama", "nik", "desa"]
    validate_template("{{nama}} {{  nik  }} {{\tdesa\n}}", FIELDS)


def test_a_template_with_only_known_placeholders_is_valid() -> None:
    validate_template(LETTER, FIELDS)


def test_a_template_without_placeholders_is_valid() -> None:
    validate_template("Surat keterangan.\nHormat kami,", [])


def test_an_unknown_placeholder_is_refused_by_name() -> None:
    with pytest.raises(DomainError) as caught:
        validate_template("Alamat: {{ alamat }}", FIELDS)
    assert caught.value.params["placeholder"] == "{{ alamat }}"
    assert caught.value.params["allowed"] == "desa, nama, nik, tanggal"
    assert "tidak dikenal" in caught.value.message


def test_with_nothing_allowed_every_placeholder_is_unknown() -> None:
    with pytest.raises(DomainError) as caught:
        validate_template("{{ nama }}", [])
    assert caught.value.params["allowed"] == "-"


@pytest.mark.parametrize(
    "template",
    [
        "{% if nama %}ya{% endif %}",
        "{%- for x in y -%}",
        "akhir %}",
        "{# catatan #}",
        "{{ a.b }}",
        "{{ nama.upper() }}",
        "{{ x|filter }}",
        "{{ nama | safe }}",
        "{{ 7*7 }}",
        "{{ 7 }}",
        "{{ 1nama }}",
        "{{ nama() }}",
        "{{ nama['x'] }}",
        "{{ a b }}",
        "{{ Nama }}",
        "{{ NAMA }}",
        "{{ }}",
        "{{}}",
        "{{ nama-lengkap }}",
        "{{ namé }}",
        "{{ config.__class__.__init__.__globals__ }}",
        "{{ ''.__class__ }}",
        "{{ {{ nama }} }}",
        "{{{ nama }}}",
    ],
)
def test_anything_that_looks_like_code_is_refused(template: str) -> None:
    with pytest.raises(DomainError) as caught:
        validate_template(template, FIELDS | {"a", "x", "b", "y"})
    assert str(caught.value)
    with pytest.raises(DomainError):
        render_text(template, dict.fromkeys(FIELDS | {"a", "x", "b", "y"}, "v"))


@pytest.mark.parametrize("name", ["__class__", "__init__", "__globals__", "__x"])
def test_dunder_names_are_refused_even_when_allowed(name: str) -> None:
    template = "{{ " + name + " }}"
    with pytest.raises(DomainError) as caught:
        validate_template(template, [name])
    assert caught.value.params["snippet"] == template
    assert "garis bawah" in caught.value.message


def test_a_single_leading_underscore_is_an_ordinary_name() -> None:
    validate_template("{{ _catatan }}", ["_catatan"])


@pytest.mark.parametrize(
    "template",
    ["{{ nama", "nama }}", "{{ nama }", "{ nama }}", "{ nama }", "Harga {10}", "a } b", "{{ nama }} {"],
)
def test_unbalanced_braces_are_refused(template: str) -> None:
    with pytest.raises(DomainError) as caught:
        validate_template(template, FIELDS)
    assert "Kurung kurawal tidak berpasangan" in caught.value.message


def test_unbalanced_braces_message_quotes_the_place() -> None:
    with pytest.raises(DomainError) as caught:
        validate_template("Kepada {{ nama }}, alamat { desa", FIELDS)
    assert "Kurung kurawal" in caught.value.message
    assert "{ desa" in caught.value.params["snippet"]


def test_a_long_snippet_is_shortened_in_the_message() -> None:
    with pytest.raises(DomainError) as caught:
        validate_template("{{ " + "x" * 200 + ".y }}", FIELDS)
    assert len(caught.value.params["snippet"]) <= 40


def test_render_text_substitutes_every_placeholder() -> None:
    values = {"nama": "Siti Wulandari", "nik": "1809011211900001", "desa": "Hanura"}
    assert render_text(LETTER, values) == (
        "Yang bertanda tangan di bawah ini menerangkan bahwa Siti Wulandari "
        "(NIK 1809011211900001) adalah warga Hanura."
    )


def test_render_text_fills_a_repeated_placeholder_each_time() -> None:
    assert render_text("{{ a }}-{{a}}-{{  a  }}", {"a": "x"}) == "x-x-x"


def test_render_text_ignores_values_that_are_not_used() -> None:
    assert render_text("Halo {{ nama }}", {"nama": "Budi", "lain": "?"}) == "Halo Budi"


def test_render_text_refuses_a_missing_value() -> None:
    with pytest.raises(DomainError) as caught:
        render_text("Halo {{ nama }}", {})
    assert caught.value.params == {"placeholder": "{{ nama }}"}
    assert "belum punya nilai" in caught.value.message


def test_render_text_treats_none_as_missing() -> None:
    with pytest.raises(DomainError):
        render_text("Halo {{ nama }}", {"nama": None})  # type: ignore[dict-item]


def test_render_text_keeps_an_empty_string_value() -> None:
    assert render_text("[{{ nama }}]", {"nama": ""}) == "[]"


def test_values_are_inserted_literally_and_never_expanded() -> None:
    values = {"nama": "{{ nik }}", "nik": "{% raw %}{{ 7*7 }}"}
    assert render_text("{{ nama }} / {{ nik }}", values) == "{{ nik }} / {% raw %}{{ 7*7 }}"


def test_nothing_is_ever_evaluated() -> None:
    with pytest.raises(DomainError):
        render_text("{{ 7*7 }}", {})
    with pytest.raises(DomainError):
        render_text("{{ nama.__class__ }}", {"nama": "x"})


NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
LITERAL = st.text(st.characters(blacklist_characters="{}", blacklist_categories=("Cs",)), max_size=20)
SPACE = st.sampled_from(["", " ", "  ", "\t", "\n"])


@st.composite
def template_and_expected(draw: st.DrawFn) -> tuple[str, dict[str, str], str]:
    names = draw(st.lists(NAMES, min_size=1, max_size=4, unique=True))
    values = {name: draw(st.text(max_size=15)) for name in names}
    template = draw(LITERAL)
    expected = template
    for _ in range(draw(st.integers(0, 6))):
        name = draw(st.sampled_from(names))
        literal = draw(LITERAL)
        template += "{{" + draw(SPACE) + name + draw(SPACE) + "}}" + literal
        expected += values[name] + literal
    return template, values, expected


@given(template_and_expected())
def test_rendering_replaces_placeholders_with_values_and_keeps_everything_else(
    case: tuple[str, dict[str, str], str],
) -> None:
    template, values, expected = case
    validate_template(template, values)
    assert render_text(template, values) == expected


BRACEY = st.text(alphabet="{}%# ._|*()\n'ax1", max_size=30)
ANY_TEXT = st.one_of(st.text(max_size=40), BRACEY)


@given(ANY_TEXT, st.dictionaries(NAMES, st.text(max_size=10), max_size=3))
def test_render_text_only_ever_raises_domain_errors_and_outputs_only_template_or_value_text(
    template: str, values: dict[str, str]
) -> None:
    try:
        result = render_text(template, values)
    except DomainError as error:
        assert str(error)
        return
    allowed_chars = set(template) | set("".join(values.values()))
    assert set(result) <= allowed_chars
    for name in find_placeholders(template):
        assert values[name] in result


@given(ANY_TEXT, st.sets(NAMES, max_size=3))
def test_a_template_that_validates_always_renders(template: str, names: set[str]) -> None:
    try:
        validate_template(template, names)
    except DomainError as error:
        assert str(error)
        return
    render_text(template, dict.fromkeys(names, "v"))


@given(BRACEY)
def test_find_placeholders_never_fails(template: str) -> None:
    assert all(name.isidentifier() for name in find_placeholders(template))


# --- what residents typed, fitted into the letter's sentences (issue 14, item 7) ------------------

CLOSING = "Surat keterangan ini dibuat untuk keperluan {{ keperluan }}. Demikian surat ini dibuat."


@pytest.mark.parametrize(
    "typed",
    [
        "Untuk melamar kerja",
        "untuk melamar kerja.",
        "Melamar kerja",
        "  Untuk  melamar kerja. ",
        "Keperluan melamar kerja",
    ],
)
def test_the_purpose_continues_the_sentence_without_a_second_untuk_capital_or_period(typed: str) -> None:
    body = render_text(CLOSING, {"keperluan": typed}, phrases=["keperluan"])
    assert body == "Surat keterangan ini dibuat untuk keperluan melamar kerja. Demikian surat ini dibuat."


def test_a_business_kind_reads_as_a_phrase_but_its_name_stays_as_typed() -> None:
    template = (
        "memiliki usaha {{ jenis_usaha }} dengan nama {{ nama_usaha }} yang beralamat di {{ alamat_usaha }}."
    )
    values = {
        "jenis_usaha": "Warung kelontong",
        "nama_usaha": "Warung Berkah",
        "alamat_usaha": "Jalan Raya Hanura.",
    }
    assert render_text(template, values, phrases=values) == (
        "memiliki usaha warung kelontong dengan nama Warung Berkah yang beralamat di Jalan Raya Hanura."
    )


@pytest.mark.parametrize(
    ("before", "typed", "after", "expected"),
    [
        ("Pekerjaan: ", "Wiraswasta", "\n", "Wiraswasta"),  # after a label: as typed
        ("meninggal di ", "Pesawaran", " karena", "Pesawaran"),  # a place name: as typed
        ("meninggal di ", "RSUD Abdul Moeloek", ".", "RSUD Abdul Moeloek"),
        ("karena ", "Sakit jantung.", ".", "sakit jantung"),
        ("sekitar ", "Rp 1.500.000", " per bulan", "Rp 1.500.000"),
        ("mengurus ", "KTP baru", " di Dinas", "KTP baru"),
        ("Alamat: ", "Dusun 1, RT 002.", "\n", "Dusun 1, RT 002."),  # ends a line: its period stays
        ("untuk keperluan ", "untuk", ".", "untuk"),  # nothing left after the lead word: kept
    ],
)
def test_fit_value_changes_only_what_the_sentence_needs(before, typed, after, expected) -> None:
    assert fit_value(typed, before, after) == expected


def test_a_single_word_in_a_phrase_field_is_lowered_mid_sentence() -> None:
    assert fit_value("Bengkel", "memiliki usaha ", " dengan", phrase=True) == "bengkel"
    assert fit_value("Bengkel", "memiliki usaha ", " dengan") == "Bengkel"


def test_values_not_named_as_phrases_are_inserted_exactly() -> None:
    assert render_text(CLOSING, {"keperluan": "Untuk melamar kerja."}) == (
        "Surat keterangan ini dibuat untuk keperluan Untuk melamar kerja.. Demikian surat ini dibuat."
    )
