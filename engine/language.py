"""A work's language, read off its editions' ISBNs, and which languages a request wants.

An ISBN names a registration group before the publisher (ISBN-10 `3-423-...`; ISBN-13
`978-3-423-...`): a country or a language area. `ISBN_GROUPS` maps the groups whose books
are, nearly always, in one language (Book-Crossing's editions are 62% group 0/1, 23%
group 3; see BENCHMARKS.md) to ISO 639-1 codes; groups of several languages (92,
international; 81 and 93, India) and unlisted groups give no language. A work's language
is its editions' most common one; a work whose ISBNs say nothing has none and passes
every language filter.

Picks follow the language of the books asked about (`wanted_languages`); `lang=any`
lifts the filter and `lang=de` asks for one language.
Numpy only.
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable

import numpy as np

# Registration group -> language. Longest prefix wins (the groups form a prefix code).
ISBN_GROUPS: dict[str, str] = {
    "0": "en", "1": "en",  # English-speaking countries
    "2": "fr",  # France, Belgium, Canada (French), Switzerland (French)
    "3": "de",  # Germany, Austria, Switzerland (German)
    "4": "ja", "5": "ru", "7": "zh",
    "80": "cs", "82": "no", "83": "pl", "84": "es", "85": "pt", "87": "da", "88": "it", "89": "ko",
    "90": "nl", "91": "sv", "94": "nl",
    "950": "es", "951": "fi", "952": "fi", "953": "hr", "954": "bg", "956": "es", "958": "es", "959": "es",
    "960": "el", "961": "sl", "963": "hu", "965": "he", "966": "uk", "968": "es", "970": "es", "972": "pt",
    "973": "ro", "975": "tr", "980": "es", "987": "es", "989": "pt",
    "9979": "is", "9985": "et", "9986": "lt", "9984": "lv",
}
# ISBN-13 prefixes other than 978 that carry a group of their own.
ISBN13_979 = {"10": "fr", "11": "ko", "12": "it", "8": "en"}
LANGUAGES: tuple[str, ...] = ("",) + tuple(sorted(set(ISBN_GROUPS.values()) | set(ISBN13_979.values())))
CODE = {name: i for i, name in enumerate(LANGUAGES)}  # stored per work as a small int; 0 = unknown
ANY = "any"


def isbn_language(isbn: str) -> str:
    """The language of one ISBN-10 or ISBN-13 ("" when its group does not tell)."""
    digits = "".join(c for c in str(isbn) if c.isdigit() or c in "xX")
    if len(digits) == 13:
        prefix, rest = digits[:3], digits[3:]
        if prefix == "979":
            return next((lang for p, lang in ISBN13_979.items() if rest.startswith(p)), "")
        if prefix != "978":
            return ""
        digits = rest
    elif len(digits) != 10:
        return ""
    for length in (1, 2, 3, 4):
        lang = ISBN_GROUPS.get(digits[:length])
        if lang:
            return lang
    return ""


def work_language(isbns: Iterable[str]) -> str:
    """The most common language of a work's editions ("" when none tells; ties: the first edition's)."""
    counts = Counter(lang for lang in map(isbn_language, isbns) if lang)
    return counts.most_common(1)[0][0] if counts else ""


def language_codes(isbn_lists: Iterable[str]) -> np.ndarray:
    """uint8 language code of each work (`CODE`), from its `|`-joined ISBNs."""
    return np.array([CODE[work_language(joined.split("|") if joined else ())] for joined in isbn_lists], np.uint8)


def parse_language(value: str | None) -> str | None:
    """A user's `lang=` value: None (follow the books asked about), "any", or a known code.

    Raises:
        ValueError: an unknown language.
    """
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in ("", "auto", "same"):
        return None
    if text in (ANY, "all", "*"):
        return ANY
    if text in CODE and text:
        return text
    raise ValueError(f"unknown language {value!r}; use lang=any or one of {', '.join(LANGUAGES[1:])}")


def wanted_languages(query_codes: Iterable[int], lang: str | None, share: float = 0.25) -> frozenset[int] | None:
    """Language codes a list may hold, or None for no filter.

    Args:
        query_codes: Language codes of the books asked about (a title or a whole shelf).
        lang: The request's `lang` (see `parse_language`).
        share: With no `lang`, every language holding at least this share of the query's
            books with a known language is wanted (a bilingual shelf gets both).
    """
    if lang == ANY:
        return None
    if lang is not None:
        return frozenset({CODE[lang]})
    counts = Counter(int(c) for c in query_codes if c)
    if not counts:
        return None  # nothing known about the query's language: no filter
    total = sum(counts.values())
    return frozenset(code for code, n in counts.items() if n >= share * total)
