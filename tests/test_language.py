"""engine.language: a work's language read off its ISBNs, and which languages a list may hold."""
from __future__ import annotations

import numpy as np
import pytest

from engine.language import (ANY, CODE, ISBN13_979, ISBN_GROUPS, LANGUAGES, isbn_language, language_codes,
                             parse_language, wanted_languages, work_language)

EN, DE, FR, ES = CODE["en"], CODE["de"], CODE["fr"], CODE["es"]

# Real editions, one per registration group (the group is what decides, not the check digit).
DUNE_EN = "0441172660"  # 0: Ace Books, New York
POTTER_EN = "1551922444"  # 1: English-speaking countries
ETRANGER_FR = "2070360024"  # 2: Gallimard
SCHWARM_DE = "3596164532"  # 3: Fischer
VERMESSUNG_DE = "3498035282"  # 3: Rowohlt
SOLEDAD_ES = "8437604947"  # 84: Cátedra
GATTOPARDO_IT = "8807880180"  # 88: Feltrinelli
KALEVALA_FI = "9510123456"  # 951: Finland
UNESCO = "9231012345"  # 92: international organisations, many languages
INDIA = "8120000000"  # 81: India, many languages


@pytest.mark.parametrize("isbn, language", [
    (DUNE_EN, "en"),
    (POTTER_EN, "en"),
    (ETRANGER_FR, "fr"),
    (SCHWARM_DE, "de"),
    (SOLEDAD_ES, "es"),
    (GATTOPARDO_IT, "it"),
    (KALEVALA_FI, "fi"),
    ("9520000000", "fi"),  # 952: Finland too
    ("9979000000", "is"),  # a four-digit group (Iceland)
    ("059035342x", "en"),  # a lower-case check digit X
    ("3-16-148410-X", "de"),  # hyphens
    ("3 16 148410 X", "de"),  # spaces
])
def test_isbn10_group_gives_the_language(isbn, language):
    """An ISBN-10's registration group names the language of the edition."""
    assert isbn_language(isbn) == language


@pytest.mark.parametrize("isbn, language", [
    ("9780441172665", "en"),  # Dune as an ISBN-13
    ("978-1-55192-244-9", "en"),
    ("9782070360024", "fr"),
    ("978-3-16-148410-0", "de"),
    ("9788437604947", "es"),
    ("9788807880186", "it"),
    ("9789510123456", "fi"),
    ("979-10-90636-07-1", "fr"),  # 979-10: France
    ("9791120000000", "ko"),  # 979-11: Korea
    ("9791220000000", "it"),  # 979-12: Italy
    ("9798600000000", "en"),  # 979-8: United States
])
def test_isbn13_reads_the_group_after_its_prefix(isbn, language):
    """An ISBN-13 is read past its 978/979 prefix: 978-3 is German, and 979 has groups of its own."""
    assert isbn_language(isbn) == language


@pytest.mark.parametrize("isbn", [
    UNESCO,  # 92: international, several languages
    INDIA,  # 81: India, several languages
    "9789231012345",  # 92 as an ISBN-13
    "9790000000000",  # 979-0: sheet music (ISMN), no book group
    "9799000000000",  # 979-9: not assigned
    "9771234567003",  # a 977 barcode (a periodical), not an ISBN
    "044117266",  # nine digits
    "04411726601",  # eleven digits
    "97804411726650",  # fourteen digits
    "",
    "not an isbn",
    "xxxxxxxxxx",
])
def test_isbns_that_say_nothing_give_no_language(isbn):
    """A multi-language group, an unknown prefix or a malformed string gives "" (unknown), never a guess."""
    assert isbn_language(isbn) == ""


def test_groups_form_a_prefix_code():
    """The lookup tries the shortest group first, so no group may begin another one: adding
    "95" would silently take over "951" (Finnish) and every other 95x group."""
    for table in (ISBN_GROUPS, ISBN13_979):
        for group in table:
            assert not [other for other in table if other != group and other.startswith(group)], group
    assert all(lang in CODE for lang in (*ISBN_GROUPS.values(), *ISBN13_979.values()))


def test_work_language_is_its_editions_most_common_one():
    """A work with two German editions and one English one is German."""
    assert work_language([SCHWARM_DE, DUNE_EN, VERMESSUNG_DE]) == "de"
    assert work_language([DUNE_EN, SCHWARM_DE, "9780441172665"]) == "en"
    assert work_language([UNESCO, INDIA, DUNE_EN]) == "en"  # editions that say nothing do not outvote one that does


def test_work_language_tie_goes_to_the_first_edition():
    """Equally many editions per language: the first listed (the most rated) decides."""
    assert work_language([DUNE_EN, SCHWARM_DE]) == "en"
    assert work_language([SCHWARM_DE, DUNE_EN]) == "de"


def test_work_language_unknown_when_no_isbn_tells():
    """A work with no ISBN, or only multi-language ones, has no language (and passes every filter)."""
    assert work_language([]) == ""
    assert work_language([UNESCO, INDIA, ""]) == ""


def test_language_codes_one_small_int_per_work():
    """Each catalogue row's `|`-joined ISBNs become the stored code of its language; 0 is unknown."""
    codes = language_codes([f"{SCHWARM_DE}|{DUNE_EN}|{VERMESSUNG_DE}", "", UNESCO, SOLEDAD_ES, f"{UNESCO}|{ETRANGER_FR}"])
    assert codes.dtype == np.uint8
    assert codes.tolist() == [DE, 0, 0, ES, FR]
    assert language_codes([]).shape == (0,)
    assert LANGUAGES[0] == "" and CODE[""] == 0
    assert all(LANGUAGES[CODE[name]] == name for name in LANGUAGES) and len(LANGUAGES) <= 256


@pytest.mark.parametrize("value", [None, "", "   ", "auto", "Same"])
def test_parse_language_follows_the_books_asked_about(value):
    """No lang= (or lang=auto) means: picks in the language of the books asked about."""
    assert parse_language(value) is None


@pytest.mark.parametrize("value", ["any", "ANY", " Any ", "all", "*"])
def test_parse_language_any_lifts_the_filter(value):
    assert parse_language(value) == ANY


@pytest.mark.parametrize("value, code", [("de", "de"), ("DE", "de"), ("  fr ", "fr"), ("Es", "es"), ("fi", "fi")])
def test_parse_language_known_codes_any_case(value, code):
    """lang=DE and lang= de  both ask for German."""
    assert parse_language(value) == code


@pytest.mark.parametrize("value", ["klingon", "xx", "german", "en-US"])
def test_parse_language_unknown_code_is_a_friendly_error(value):
    """An unknown language is refused with the value quoted and the codes one may use instead."""
    with pytest.raises(ValueError) as raised:
        parse_language(value)
    message = str(raised.value)
    assert repr(value) in message and "lang=any" in message
    listed = message.split("one of ", 1)[1].split(", ")
    assert set(listed) == set(LANGUAGES) - {""}  # every usable code, and no empty one
    assert all(parse_language(code) == code for code in listed)  # what it suggests works


def test_wanted_languages_a_mostly_english_shelf_wants_english():
    """Nine English books and one German one: the German one is under the share, the list stays English."""
    assert wanted_languages([EN] * 9 + [DE], None) == {EN}
    assert wanted_languages([EN] * 4 + [DE], None) == {EN}  # 20% < 25%


def test_wanted_languages_a_mixed_shelf_wants_each_language_with_its_share():
    """A bilingual shelf gets both languages; a language holding exactly the share counts."""
    assert wanted_languages([EN, EN, EN, DE], None) == {EN, DE}  # 25%: at least the share
    assert wanted_languages([EN, DE, FR, ES], None) == {EN, DE, FR, ES}
    assert wanted_languages(np.array([DE, EN, DE], np.uint8), None) == {EN, DE}  # the engine passes a uint8 array
    assert wanted_languages([EN, EN, DE], None, share=0.5) == {EN}


def test_wanted_languages_counts_only_books_of_known_language():
    """Books whose ISBNs say nothing neither want a language nor dilute the others' shares."""
    assert wanted_languages([EN, DE, 0, 0, 0, 0, 0, 0], None) == {EN, DE}
    assert wanted_languages([EN, 0, 0], None) == {EN}
    assert wanted_languages([0, 0], None) is None  # nothing known: no filter at all
    assert wanted_languages([], None) is None


def test_wanted_languages_lang_overrides_the_shelf():
    """lang=any lifts the filter; lang=de asks for German alone, whatever the shelf's language."""
    assert wanted_languages([EN] * 5, ANY) is None
    assert wanted_languages([EN] * 5, "de") == {DE}
    assert wanted_languages([], "fr") == {FR}
