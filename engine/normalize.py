"""Text normalisation shared by loaders (edition merging) and title matching."""
from __future__ import annotations

import html
import re
import unicodedata

_PARENS = re.compile(r"\([^()]*\)|\[[^\[\]]*\]")
_NON_WORD = re.compile(r"[\W_]+")


_MOJIBAKE_DOUBLE = re.compile("Ã[?\x83]Â([\x80-\xbf?])")  # UTF-8 read as latin-1 twice, byte 0x83 lost to "?"
_MOJIBAKE_PAIR = re.compile("[ÂÃ][\x80-\xbf]")  # one UTF-8 character read as latin-1
_MOJIBAKE_LOST = re.compile("Ã\\?")  # "Ã" + a byte lost to "?": one of À..ß, unknown


def fix_mojibake(text: str) -> str:
    """Undo the UTF-8-read-as-latin-1 damage common in Book-Crossing (e.g. "ErzÃ¤hlungen").

    The whole text is decoded when it can be (once or twice); otherwise each damaged
    character is repaired on its own, since the dump replaced some bytes by "?"
    ("grÃ?Â¶Ã?Â?te" is "größte"). Idempotent: repaired text is left as it is.
    """
    if "Ã" not in text and "Â" not in text:
        return text
    for _ in range(2):
        try:
            fixed = text.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            break
        if fixed == text:
            break
        text = fixed
    if "Ã" not in text and "Â" not in text:
        return text
    text = _MOJIBAKE_DOUBLE.sub(lambda m: "Ã" + m.group(1), text)
    text = _MOJIBAKE_PAIR.sub(lambda m: m.group().encode("latin-1").decode("utf-8"), text)
    # The lost letter is ß after a lowercase letter (the rest of À..ß are capitals), else unknown.
    return _MOJIBAKE_LOST.sub(lambda m: "ß" if m.start() and text[m.start() - 1].islower() else "\ufffd", text)


# Named entities need their ";" ("&LTRS" is not "<RS"); numeric ones are often cut short.
_ENTITY = re.compile(r"&(?:#[0-9]{1,7};?|#[xX][0-9a-fA-F]{1,6};?|[A-Za-z][A-Za-z0-9]{1,31};)")


def unescape_html(text: str) -> str:
    """HTML entities decoded, also when escaped twice ("&amp;#160;", "&amp;reg;")."""
    for _ in range(3):
        if "&" not in text:
            break
        fixed = _ENTITY.sub(lambda m: html.unescape(m.group()), text)
        if fixed == text:
            break
        text = fixed
    return text


def clean_text(text: str) -> str:
    """Display form: mojibake and HTML entities fixed, whitespace collapsed; idempotent."""
    text = text or ""
    for _ in range(3):  # an entity may decode to mojibake and the other way round
        fixed = unescape_html(fix_mojibake(text))
        if fixed == text:
            break
        text = fixed
    return " ".join(text.split())


def fold(text: str) -> str:
    """Lowercase ASCII-ish form: accents stripped, punctuation to spaces, "&" and "+" as "and"."""
    text = text.lower()
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c)).replace("ß", "ss")
    text = text.replace("&", " and ").replace("+", " and ").translate(_APOSTROPHES)
    return " ".join(_NON_WORD.sub(" ", text.replace("s's", "s").replace("'", "")).split())


# Apostrophes vanish ("Angela's", "Angela’s" and "angelas" fold alike; "Jones's" is "Jones'");
# "&" and "+" are "and".
_APOSTROPHES = str.maketrans("’‘`´", "'" * 4)


def strip_parentheticals(title: str) -> str:
    """Remove series and edition notes: "Dune (Dune Chronicles (Berkley Paperback))" -> "Dune"."""
    previous = None
    while previous != title:  # nested parentheses go from the inside out
        previous, title = title, _PARENS.sub(" ", title)
    title = title.split("(")[0]  # an unclosed "(" ends the title too
    return " ".join(title.split()).strip(" :;,-/")


def series_note(title: str) -> str:
    """The series or line a title names in its first parentheses, cleaned ("" without one), with
    its volume as "#N" when it gives one.

    "Dune (Dune Chronicles (Berkley Paperback))" -> "Dune Chronicles"; "House Atreides
    (Dune: House Trilogy, Book 1)" -> "Dune: House Trilogy #1"; "The Path of Daggers (The Wheel
    of Time, Book 8)" -> "The Wheel of Time #8"; "Emma (Penguin Classics)" -> "Penguin Classics".
    Format notes inside it go.
    """
    text = clean_text(title)
    start = text.find("(")
    if start < 0:
        return ""
    depth, end = 0, len(text)
    for i in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            end = i
            break
    note = strip_parentheticals(text[start + 1:end])
    volume = _VOLUME_NOTE.search(note)
    number = _volume_number(volume.group("number")) if volume else 0
    if volume:
        note = note[:volume.start()]
    note = " ".join(note.split()).strip(" :;,-/#.")
    return f"{note} #{number}" if note and number else note


def note_form(note: str) -> str:
    """A series note as one writer's books share it: folded, without its volume or leading article
    ("The Vampire Chronicles", "Vampire Chronicles #2" -> "vampire chronicles")."""
    return drop_article(fold(_NOTE_VOLUME.sub("", note or "")))


def series_volume(note: str) -> int:
    """The volume a series note names ("The Wheel of Time #8" -> 8), 0 when none."""
    volume = _NOTE_VOLUME.search(note or "")
    return int(volume.group(1)) if volume else 0


_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "x": 10}


def _volume_number(text: str) -> int:
    text = text.lower()
    return int(text) if text.isdigit() and len(text) <= 3 else _ROMAN.get(text, 0)


# "Book 1", "#3", "No. 12", "Vol. II", a bare number: a note's volume, not its series.
_VOLUME_NOTE = re.compile(r"[,:;\s]*(?:\b(?:book|books|no|nr|vol|volume|part|bk|band|tome)\b\.?\s*|#\s*)?"
                          r"\b(?P<number>[0-9]+|[ivx]+)\b\s*$", re.IGNORECASE)
_NOTE_VOLUME = re.compile(r" #(\d+)$")
# Words that name the kind of a series, not which one it is ("Dune Chronicles", "House Trilogy").
_SERIES_WORDS = frozenset({"series", "chronicles", "chronicle", "trilogy", "saga", "cycle", "sequence", "quartet",
                           "quintet", "novels", "novel", "books", "book", "paperback", "hardcover", "mass", "market",
                           "the", "a", "an", "of"})


def series_key(note: str) -> str:
    """What names a series' universe: a note's words before ':' or ',' without generic words
    ("Dune Chronicles", "Dune: House Trilogy" and "Dune Series" -> "dune")."""
    head = re.split(r"[:,;/(]", _NOTE_VOLUME.sub("", note or ""), maxsplit=1)[0]
    return " ".join(w for w in fold(head).split() if w not in _SERIES_WORDS and not w.isdigit())


_UNITS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve thirteen "
                                     "fourteen fifteen sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2)}
_NUMBER_WORD = re.compile(r"\b(%s)\b" % "|".join([*_UNITS, *_TENS]))


def digits(title: str) -> str:
    """A folded title with its numbers in words written in digits: "nineteen eighty four" -> "1984" (a
    year read in pairs), "the crying of lot forty nine" -> "the crying of lot 49", "two thousand one"
    -> "2001", "four hundred fifty one" and "four fifty one" -> "451"."""
    if not _NUMBER_WORD.search(title):
        return title  # most titles: nothing to read
    out: list[str] = []
    chunks: list[int] = []  # a year read in pairs: "nineteen" "eighty four"
    total = current = 0
    spoken = False  # within a number in words

    def close() -> None:
        nonlocal total, current, spoken
        if spoken:
            chunks.append(total + current)
            out.append(str(chunks[0]) + "".join(f"{c:02d}" for c in chunks[1:]))
            chunks.clear()
        total = current = 0
        spoken = False

    for word in title.split():
        unit, tens = _UNITS.get(word), _TENS.get(word)
        if unit is not None and spoken and current % 10 == 0 and 20 <= current % 100 and unit < 10:
            current += unit  # "eighty" "four"
        elif (unit is not None or tens is not None) and spoken and current % 100 == 0 and (total or current):
            current += unit if unit is not None else tens  # "four hundred" "fifty", "two thousand" "one"
        elif unit is not None or tens is not None:
            if spoken and (10 <= total + current < 100 or (tens is not None and 0 < total + current < 10)):
                chunks.append(total + current)  # "nineteen" then "eighty": a year in pairs; "four" "fifty one"
                total = current = 0
            elif spoken:
                close()
            current, spoken = (unit if unit is not None else tens), True
        elif word == "hundred" and spoken:
            current *= 100
        elif word == "thousand" and spoken:
            total, current = total + current * 1000, 0
        else:
            close()
            out.append(word)
    close()
    return " ".join(out)


def main_title(title: str) -> str:
    """A title before its subtitle as the catalogue keys it (`normalize_title`), its numbers in digits
    (`digits`): how two works' titles are compared for one book (`editions.one_book`, the list rules)."""
    return digits(normalize_title(split_alternate(title)[0]))


_SMALL_WORDS = {"a", "an", "and", "as", "at", "but", "by", "for", "in", "of", "on", "or", "the", "to", "with"}


def tidy_case(text: str) -> str:
    """Title-case text typed in capitals ("A HOVERING OF VULTURES" -> "A Hovering of Vultures")."""
    if not text.isupper():
        return text
    words = text.lower().split(" ")
    return " ".join(w if i and w in _SMALL_WORDS else w[:1].upper() + w[1:] for i, w in enumerate(words))


# Leading articles a work key drops ("The Alchemist" = "Alchemist"): English, German,
# French, Spanish, Italian. Catalogues also write them last ("Alchemist, The").
ARTICLES = frozenset({"the", "a", "an", "der", "die", "das", "le", "la", "les", "el", "los", "las", "il"})
_TRAILING_ARTICLE = re.compile(r"^(?P<title>.+?),\s*(?P<article>%s)$" % "|".join(sorted(ARTICLES)), re.IGNORECASE)
# Subtitles that only say what kind of book it is ("Angela's Ashes: A Memoir", "Die große
# Flatter. Roman."): edition noise, left out of the display and the key.
NOISE_SUBTITLES = frozenset({
    "a novel", "a memoir", "a thriller", "a mystery", "a romance", "a love story", "a novel of suspense",
    "roman", "ein roman", "kriminalroman", "sonderausgabe", "romanzo", "novela", "un roman",
})
# An edition note ending a title or subtitle outside parentheses: "Snow Falling on Cedars: Movie
# Tie-in Edition", "Wicked Musical Tie-in Edition: The Life and Times ...", ", 3rd Edition".
_EDITION_WORDS = (r"\d+(?:st|nd|rd|th)|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|twentieth|"
                  r"twenty-fifth|fiftieth|hundredth|new|revised|updated|expanded|special|gift|"
                  r"anniversary|centennial|deluxe|illustrated|premium|large[- ]print|mass[- ]market|"
                  r"book[- ]club|movie|film|musical|media|tv|tie-?in|unabridged|abridged|restored|definitive|annotated|"
                  r"authori[sz]ed|and|&")
_EDITION_NOTE = re.compile(r"[\s,;.-]*\b(?:the\s+)?(?:(?:%s)\s+){1,6}edition\b\.?\s*$|[\s,;.-]*\b(?:movie|film|musical|media|tv)\s+"
                           r"tie-?in\b\s*$|[\s,;.-]*\b(?:complete\s+and\s+)?unabridged\s*$|"
                           r"[\s,;.-]*\b(?:the\s+)?(?:complete\s+)?(?:book\s+on\s+tape|audio\s*book|audio\s+cassette)\s*$"
                           % _EDITION_WORDS, re.IGNORECASE)
_LAST_SUBTITLE = re.compile(r"\s*(?::|\.\s)\s*(?P<subtitle>[^:.]+?)$")
_SUBTITLE_COLON = re.compile(r"\s*:\s+|\s+:\s*|:$")  # not "10:04"
_ABBREVIATION_END = re.compile(r"(^|[\s.])\w{1,2}\.$")


def display_title(title: str) -> str:
    """Title as shown to users: cleaned, without edition notes (falls back to the full title).

    Parenthetical series and edition notes, a subtitle that only names the genre
    (`NOISE_SUBTITLES`) or repeats the title, and trailing full stops go; an article
    written last comes first ("Alchemist, The" -> "The Alchemist", also before a colon);
    "Title : Subtitle" becomes "Title: Subtitle". Idempotent, so a work's key can be
    computed again from what the catalogue shows.
    """
    cleaned = clean_text(title)
    parts = [_article_first(_without_edition_notes(part).strip())
             for part in _SUBTITLE_COLON.split(strip_parentheticals(cleaned))]
    text, previous = ": ".join(part for part in parts if part), None
    while text != previous:  # "Schlafes Bruder. Sonderausgabe. Roman." loses both
        previous = text
        if not text.endswith("...") and not _ABBREVIATION_END.search(text):
            text = text.rstrip(" .")  # "Snow Crash." but not "Mr." or "U.S.A."
        noise = _LAST_SUBTITLE.search(text)
        if noise and noise.start() and (fold(noise.group("subtitle")) in NOISE_SUBTITLES
                                        or fold(noise.group("subtitle")) == fold(text[:noise.start()])):
            text = text[:noise.start()]  # "Angela's Ashes: A Memoir", "MERIDON : MERIDON"
    text = " ".join(text.split()).strip(" :;,-/")
    return text or cleaned


def _without_edition_notes(text: str) -> str:
    """`text` without the edition notes that end it, however many ("... Unabridged Unabridged")."""
    previous = None
    while text != previous:
        previous, text = text, _EDITION_NOTE.sub("", text)
    return text


def split_subtitle(title: str) -> tuple[str, str]:
    """(main title, subtitle) at the first colon that separates them; the subtitle is "" without one."""
    parts = _SUBTITLE_COLON.split(title, maxsplit=1)
    return (parts[0], parts[1]) if len(parts) == 2 else (title, "")


# An alternate title: "Candide, or Optimism", "Frankenstein; or, The Modern Prometheus",
# "The Hobbit: Or There and Back Again", "Slaughterhouse Five or the Children's Crusade".
# Without a comma, semicolon or colon before "or", only "or the ..." is read as one ("Dead
# or Alive", "Now or Never" are whole titles).
_ALTERNATE = re.compile(r"\s*[,;:]\s*or\b,?\s*(?=\S)|\s+or,?\s+(?=the\s)", re.IGNORECASE)


def split_alternate(title: str) -> tuple[str, str]:
    """(main title, subtitle) of a title with an alternate title or a subtitle, at whichever comes first.

    The subtitle of an alternate title keeps its "or" ("Slaughterhouse Five or the Children's
    Crusade: A Duty Dance With Death" -> ("Slaughterhouse Five", "or the Children's Crusade:
    A Duty Dance With Death")), so a reader of it can tell the two kinds apart.
    """
    alternate = _ALTERNATE.search(title)
    main, subtitle = split_subtitle(title)
    if alternate and alternate.start() > 0 and alternate.start() <= len(main):
        return title[:alternate.start()].strip(), "or " + title[alternate.end():].strip()
    return main, subtitle


def _article_first(text: str) -> str:
    inverted = _TRAILING_ARTICLE.match(text)
    return f"{inverted.group('article')} {inverted.group('title')}" if inverted else text


def normalize_title(title: str) -> str:
    """Work key part: folded display title without its leading article."""
    return drop_article(fold(display_title(title)))


def holds_words(title: str, folded_words: str) -> bool:
    """Whether a display title holds the folded words in a row, as whole words, its possessives
    read either way ("To Kill a Mockingbird" holds "mockingbird", "The Hitchhiker's Guide to the
    Galaxy" holds "hitchhiker" and "hitchhikers"; "The Silence of the Lambs" does not hold "lamb")."""
    phrase = f" {folded_words} "
    return phrase in f" {fold(title)} " or phrase in f" {fold(_POSSESSIVE.sub('', title))} "


_POSSESSIVE = re.compile(r"(?<=\w)['’]s\b")


def drop_article(folded: str) -> str:
    """A folded title without its leading article ("the hobbit" -> "hobbit"; "the" stays)."""
    first, _, rest = folded.partition(" ")
    return rest if rest and first in ARTICLES else folded


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
    """Identity of a work: its title and author normalised ("hobbit|jrr tolkien").

    A work's key is computed from the title and author the catalogue shows, so it can
    always be computed again; `engine.editions` decides which editions form one work.
    """
    return f"{normalize_title(title)}|{normalize_author(authors)}"


# --- identifiers and links -----------------------------------------------------------

_ISBN_CHARS = re.compile(r"[^0-9Xx]")


def clean_isbn(text: str) -> str:
    """Digits and X only; Goodreads writes ISBNs as ="0441172660"."""
    return _ISBN_CHARS.sub("", text or "").upper()


def isbn13(text: str) -> str:
    """One form for ISBN-10 and ISBN-13: the ISBN-13 ("0441172660" -> "9780441172665").

    An ISBN-10 becomes 978 + its first nine digits + the ISBN-13 check digit (its own
    check digit, right or wrong, is dropped); nine characters are an ISBN-10 that lost
    its leading zero in a spreadsheet. Other lengths come back cleaned but as they are.
    """
    isbn = clean_isbn(text)
    if len(isbn) == 9:
        isbn = "0" + isbn
    if len(isbn) == 10 and isbn[:9].isdigit():
        body = "978" + isbn[:9]
        check = (10 - sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body)) % 10) % 10
        return body + str(check)
    return isbn


def valid_isbn(text: str) -> bool:
    """Whether `text` is an ISBN-10 or ISBN-13 whose check digit is right."""
    isbn = clean_isbn(text)
    if len(isbn) == 10 and isbn[:9].isdigit() and (isbn[9].isdigit() or isbn[9] == "X"):
        return sum((10 - i) * (10 if c == "X" else int(c)) for i, c in enumerate(isbn)) % 11 == 0
    if len(isbn) == 13 and isbn.isdigit():
        return sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(isbn)) % 10 == 0
    return False


def https_url(url: str) -> str:
    """`url` over https when it was given over http (Telegram shows only https thumbnails)."""
    url = (url or "").strip()
    return "https://" + url[len("http://"):] if url[:7].lower() == "http://" else url
