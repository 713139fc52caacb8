"""Text normalisation shared by loaders (edition merging) and title matching."""
from __future__ import annotations

import html
import re
import unicodedata

_PARENS = re.compile(r"\([^()]*\)|\[[^\[\]]*\]")
_NON_WORD = re.compile(r"[\W_]+")


def fix_mojibake(text: str) -> str:
    """Undo the UTF-8-read-as-latin-1 damage common in Book-Crossing (e.g. "ErzÃ¤hlungen")."""
    if "Ã" not in text and "Â" not in text:
        return text
    # Doubly damaged text lost byte 0x83 to "?"; put it back so both layers decode.
    text = text.replace("Ã?Â", "Ã\x83Â")
    for _ in range(2):
        try:
            fixed = text.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            break
        if fixed == text:
            break
        text = fixed
    return text


def clean_text(text: str) -> str:
    """Display form: mojibake and HTML entities fixed, whitespace collapsed."""
    return " ".join(html.unescape(fix_mojibake(text or "")).split())


def fold(text: str) -> str:
    """Lowercase ASCII-ish form: accents stripped, punctuation to spaces."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.replace("&", " and ").replace("ß", "ss").replace("'", "")
    return " ".join(_NON_WORD.sub(" ", text).split())


def strip_parentheticals(title: str) -> str:
    """Remove series and edition notes: "Dune (Dune Chronicles (Berkley Paperback))" -> "Dune"."""
    previous = None
    while previous != title:  # nested parentheses go from the inside out
        previous, title = title, _PARENS.sub(" ", title)
    title = title.split("(")[0]  # an unclosed "(" ends the title too
    return " ".join(title.split()).strip(" :;,-/")


_SMALL_WORDS = {"a", "an", "and", "as", "at", "but", "by", "for", "in", "of", "on", "or", "the", "to", "with"}


def tidy_case(text: str) -> str:
    """Title-case text typed in capitals ("A HOVERING OF VULTURES" -> "A Hovering of Vultures")."""
    if not text.isupper():
        return text
    words = text.lower().split(" ")
    return " ".join(w if i and w in _SMALL_WORDS else w[:1].upper() + w[1:] for i, w in enumerate(words))


def display_title(title: str) -> str:
    """Title as shown to users: cleaned and without edition notes (falls back to the full title)."""
    cleaned = clean_text(title)
    return strip_parentheticals(cleaned) or cleaned


def normalize_title(title: str) -> str:
    """Work key part: folded title without parenthetical series or edition notes."""
    return fold(display_title(title))


def first_author(authors: str) -> str:
    """First of several authors ("A & B", "A, B and C", "A; B")."""
    authors = clean_text(authors)
    for sep in (";", " & ", " and ", " / "):
        authors = authors.split(sep)[0]
    # "Herbert, Frank" is one author written last-first; "A, B" with long parts is two authors.
    parts = [p.strip() for p in authors.split(",") if p.strip()]
    if len(parts) >= 2 and len(parts[0].split()) == 1 and len(parts[1].split()) <= 2:
        return f"{parts[1]} {parts[0]}"
    return parts[0] if parts else ""


def normalize_author(authors: str) -> str:
    """Work key part: folded first author, initials joined, word order ignored."""
    tokens = fold(first_author(authors).replace(".", " ")).split()
    merged: list[str] = []
    after_initial = False
    for tok in tokens:  # "J. R. R. Tolkien" and "J.R.R. Tolkien" -> "jrr tolkien"
        if len(tok) == 1 and after_initial:
            merged[-1] += tok
        else:
            merged.append(tok)
        after_initial = len(tok) == 1 or (after_initial and len(tok) == 1)
    return " ".join(sorted(merged))


def work_key(title: str, authors: str) -> str:
    """Identity of a work: editions with the same key are merged."""
    return f"{normalize_title(title)}|{normalize_author(authors)}"
