"""Editions into works: which editions of a catalogue are one book.

The rule (measured on a labelled Book-Crossing sample in docs/MERGING.md):

1. **Title.** Editions are grouped by their title key (`normalize.normalize_title`): the
   folded title without parenthetical series or edition notes, genre-only subtitles
   ("A Novel", "Roman") or a leading article ("The Alchemist" = "Alchemist, The" = "Alchemist").
2. **Author.** Within a title, two names are one person (`same_person`) when
   - their surnames agree: equal once transliteration is folded away (`_translit`:
     Dostoyevsky = Dostoevsky, Stanislaw = Stanislav), or for surnames of 5 letters or
     more a fuzzy ratio of at least `SURNAME_RATIO` (Marquez = Marques); and
   - their given names agree: one side has none (a surname alone: "Bradbury"), or the
     first given names agree (the same initial when either is an initial, else equal once
     transliterated, one a prefix of the other, or a fuzzy ratio of at least
     `GIVEN_RATIO`: Fyodor = Fedor), and second given names, when both have one, start
     with the same letter (William Gerald Golding = William G. Golding; particles such as
     "von" do not count; "J. Ramsey Campbell" = "Ramsey Campbell"); or
   - one full name begins the other ("Miguel de Cervantes" = "Miguel de Cervantes
     Saavedra"), or they are the same words in another order ("Herbert Frank").
   A name joins a group only if it agrees with every name already in it, and only if
   exactly one group takes it: full names are grouped first, then names with initials
   only, then surnames alone, so "Smith" next to "John Smith" and "Zadie Smith" stays
   on its own.
3. **Subtitle.** An edition "Main: Subtitle" joins the work titled "Main" when an
   author agrees with it, unless the subtitle numbers a volume or a reader's level
   ("Book 4", "Level 5", "1913-1962"), starts a collection ("And Other Stories"), lists
   several titles (";"), names a study aid ("Notes", "Workbook"), or is itself a title by
   that author ("The Lord of the Rings: The Two Towers" stays apart from "The Lord of the
   Rings"); and unless "Main" names a series (see `_merge_subtitles`).

Different books are never merged by title likeness: "Dune Messiah" is not "Dune",
"The Hours of the Virgin" is not "The Hours", and Hölderlin's "Hyperion" is not Simmons'.
"""
from __future__ import annotations

import bisect
import functools
import itertools
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from .normalize import (ARTICLES, NOISE_SUBTITLES, digits, display_title, drop_article, first_author, fold,
                        main_title, normalize_author, normalize_title, split_alternate)

SURNAME_RATIO = 85.0  # rapidfuzz ratio (0..100) at which two surnames of >= 5 letters agree
GIVEN_RATIO = 80.0  # the same for two full given names
_SUFFIXES = {"jr", "sr", "ii", "iii", "iv", "phd", "md", "dvm", "ms", "dr", "prof", "sir", "mrs", "mr", "st", "saint"}
_PARTICLES = {"von", "van", "de", "der", "den", "da", "di", "du", "del", "della", "la", "le", "ten", "ter"}
_TRANSLIT = [("sch", "sh"), ("tch", "ch"), ("kh", "h"), ("ph", "f"), ("ck", "k"), ("yo", "e"), ("ye", "e"),
             ("ya", "ia"), ("yu", "iu"), ("y", "i"), ("w", "v"), ("ii", "i"), ("ij", "i"), ("ou", "u")]
_GUIDE = re.compile(r"\b(notes|study guide|critical essays?|companion|workbook|teachers?|summary|made easy|no fear|"
                    r"literature guide|readers guide|lekture|interpretation|erlauterungen|side by side|modern english|"
                    r"contemporary english|facing pages? translation)\b")
# A subtitle that numbers a volume ("Book 4", "Vol. II", "#12 ...", "1913-1962"), a graded
# reader's level ("Level 5": a retelling) or names a collection of several (on folded text:
# "#" and "-" are gone by then).
_VOLUME = re.compile(r"\b(book|books|volume|vol|part|band|bd|tome|teil|livre|episode|chapter|no|nr|number|level|stage)\s+"
                     r"(\d+|[ivx]+|one|two|three|four|five|six|seven|eight|nine|ten)\b|^\d+ |\b\d{4} \d{4}\b|"
                     r"\b(ii|iii|iv|vi|vii|viii|ix)$|\b(trilogy|omnibus|boxed set|annual collection|novels)\b")


@functools.lru_cache(maxsize=1 << 18)
def name_tokens(author: str) -> tuple[str, ...]:
    """The first author's name as folded words, given names first, titles and suffixes dropped.

    Initials are single letters ("J.R.R. Tolkien" and "JRR Tolkien" -> j r r tolkien).
    """
    words = fold(first_author(author).replace(".", " ")).split()
    words = [w for w in words if w not in _SUFFIXES] or words
    out: list[str] = []
    for i, word in enumerate(words):
        if i < len(words) - 1 and 2 <= len(word) <= 3 and not set(word) & set("aeiouy"):
            out.extend(word)  # "jrr", "jd": joined initials
        else:
            out.append(word)
    return tuple(out)


SPELT_ALIKE_FROM = 6  # letters from which one author's titles a letter apart are one book ("Siddartha")


def spelt_alike(a: str, b: str) -> bool:
    """Whether two folded titles are one title, its numbers in words or in digits ("nineteen eighty
    four" and "1984"), or one of `SPELT_ALIKE_FROM` letters or more spelled a letter apart
    ("siddartha", an edition that misspelled *Siddhartha*), not a volume's number apart ("xanth 13"
    and "xanth 14", "monster blood ii" and "iii")."""
    if a == b:
        return True
    a, b = digits(a), digits(b)  # (nothing to read in a `main_title`: it is read already)
    return a == b or (min(len(a), len(b)) >= SPELT_ALIKE_FROM and OSA.distance(a, b) <= 1 and _numbers(a) == _numbers(b))


def _numbers(title: str) -> list[str]:
    """The numbers of a folded title, in digits or Roman numerals ("xanth 13" -> ["13"])."""
    return [w for w in title.split() if w.isdigit() or not set(w) - set("ivxlc")]


def one_book(title_a: str, author_a: str, title_b: str, author_b: str) -> bool:
    """Whether two works the catalogue keeps apart are likely editions of one book: one author, one
    title before the subtitle, spelled alike (`spelt_alike`). Not used to merge editions (titles
    alike are no proof of one book there); the look-up and the list rules read it."""
    return spelt_alike(main_title(title_a), main_title(title_b)) and same_person(name_tokens(author_a), name_tokens(author_b))


def _translit(word: str) -> str:
    for old, new in _TRANSLIT:
        word = word.replace(old, new)
    return word


def _surnames_agree(a: str, b: str) -> bool:
    ta, tb = _translit(a), _translit(b)
    if ta == tb:
        return True
    return min(len(a), len(b)) >= 5 and fuzz.ratio(ta, tb) >= SURNAME_RATIO


# Short forms of given names, each to its full form ("Tom Peters" is "Thomas J. Peters").
_NICKNAME_LIST = {
    "thomas": "tom tommy", "william": "bill billy will willy", "robert": "bob bobby rob robbie bert",
    "richard": "dick rick ricky rich", "james": "jim jimmy jamie", "michael": "mike mick mickey",
    "david": "dave davy", "edward": "ed eddie ned ted", "joseph": "joe joey", "kenneth": "ken kenny",
    "christopher": "chris kit", "elizabeth": "liz lizzie beth betty betsy libby eliza", "katherine": "kate kathy katie kay",
    "catherine": "cathy cate", "stephen": "steve stevie", "steven": "steve", "daniel": "dan danny",
    "anthony": "tony", "john": "jack johnny", "margaret": "maggie meg peggy marge", "samuel": "sam sammy",
    "benjamin": "ben benny", "nicholas": "nick nicky", "matthew": "matt", "patrick": "pat paddy",
    "patricia": "patty trish tricia", "ronald": "ron ronnie", "donald": "don donny", "lawrence": "larry",
    "gerald": "gerry jerry", "alexander": "alex sandy", "andrew": "andy drew", "frederick": "fred freddie",
    "gregory": "greg", "jeffrey": "jeff", "jonathan": "jon", "timothy": "tim timmy", "susan": "sue susie",
    "jennifer": "jenny jen", "theodore": "theo", "henry": "hank harry", "charles": "chuck charlie chas",
    "albert": "al bert", "alfred": "alf", "leonard": "len lenny leo", "raymond": "ray", "walter": "walt",
    "philip": "phil", "douglas": "doug", "eugene": "gene", "abraham": "abe", "zachary": "zach zack",
    "deborah": "deb debbie", "rebecca": "becky becca", "victoria": "vicky tori", "barbara": "barb babs",
    "dorothy": "dot dottie", "jacqueline": "jackie", "pamela": "pam", "cynthia": "cindy", "sandra": "sandy",
    "kimberly": "kim", "christine": "chris chrissy", "josephine": "jo josie", "alexandra": "alex",
    "gwendolyn": "gwen", "judith": "judy", "nathaniel": "nat nate", "vincent": "vince", "harold": "hal",
    "montgomery": "monty", "bradley": "brad", "frances": "fran", "francis": "frank", "franklin": "frank",
    "isaac": "ike", "lewis": "lew", "louis": "lou", "mitchell": "mitch", "randolph": "randy",
    "sylvester": "sly", "terence": "terry", "wallace": "wally"}
_NICKNAMES: dict[str, frozenset[str]] = {}
for _full, _shorts in _NICKNAME_LIST.items():
    for _short in _shorts.split():
        _NICKNAMES[_short] = _NICKNAMES.get(_short, frozenset()) | {_full}
    _NICKNAMES[_full] = _NICKNAMES.get(_full, frozenset()) | {_full}


def _nickname_of(a: str, b: str) -> bool:
    """Whether two full given names may be one name: "tom" and "thomas", "chris" and "christine"."""
    return bool(_NICKNAMES.get(a, frozenset()) & _NICKNAMES.get(b, frozenset()))


def _given_agree(a: str, b: str) -> bool:
    if len(a) == 1 or len(b) == 1:
        return a[0] == b[0]
    ta, tb = _translit(a), _translit(b)
    if ta == tb or _nickname_of(a, b):
        return True
    short, long = sorted((ta, tb), key=len)
    return (len(short) >= 3 and long.startswith(short)) or fuzz.ratio(ta, tb) >= GIVEN_RATIO


def _splits(tokens: tuple[str, ...]) -> list[tuple[tuple[str, ...], str]]:
    """(given names, surname) readings: the last word, and the last two joined ("le guin")."""
    out = [(tokens[:-1], tokens[-1])]
    if len(tokens) >= 3 and len(tokens[-2]) > 1:
        out.append((tokens[:-2], tokens[-2] + tokens[-1]))
    return out


def same_person(a: Sequence[str], b: Sequence[str]) -> bool:
    """Whether two names (`name_tokens`) may be one author; see the module docstring."""
    a, b = tuple(a), tuple(b)
    if not a or not b:
        return a == b
    if sorted(a) == sorted(b):
        return True
    short, long = sorted((a, b), key=len)
    if len(short) >= 2 and len(short[0]) > 1 and long[:len(short)] == short:
        return True  # a second surname or a cut-off name: "Miguel de Cervantes Saavedra", "Arthur Conan"
    for given_a, surname_a in _splits(a):
        for given_b, surname_b in _splits(b):
            if not _surnames_agree(surname_a, surname_b):
                continue
            given_a = tuple(w for w in given_a if w not in _PARTICLES) or given_a
            given_b = tuple(w for w in given_b if w not in _PARTICLES) or given_b
            if not given_a or not given_b or _given_names_agree(given_a, given_b) or _given_names_agree(given_b, given_a):
                return True
    return False


def _given_names_agree(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """First given names agree and second ones, when both have one, share their initial.

    Also "J. Ramsey Campbell" = "Ramsey Campbell": an initial, then the name the other uses.
    """
    if _given_agree(a[0], b[0]):
        return len(a) < 2 or len(b) < 2 or a[1][0] == b[1][0]
    return len(a[0]) == 1 and len(a) >= 2 and len(a[1]) > 1 and _given_agree(a[1], b[0])


def _specificity(tokens: tuple[str, ...]) -> int:
    """0 for a full given name, 1 for initials only, 2 for a surname alone: the order names are grouped in."""
    if len(tokens) < 2:
        return 2
    return 0 if len(tokens[0]) > 1 else 1


@dataclass
class _Group:
    names: list[tuple[str, ...]]  # name_tokens of its authors
    members: list[int]  # edition indices


def _group_authors(items: list[tuple[tuple[str, ...], float, list[int]]]) -> list[_Group]:
    """Groups of (name tokens, weight, editions) by one author; see rule 2."""
    groups: list[_Group] = []
    for tokens, _, members in sorted(items, key=lambda x: (_specificity(x[0]), -x[1], x[0])):
        fits = [g for g in groups if all(same_person(tokens, other) for other in g.names)]
        if len(fits) == 1:
            fits[0].names.append(tokens)
            fits[0].members.extend(members)
        else:
            groups.append(_Group([tokens], list(members)))
    return groups


def _main_title(shown: str) -> tuple[str, str] | None:
    """(title key of the main title, folded subtitle) of a display title.

    The main title ends at the first ':' or where an alternate title begins ("Slaughterhouse
    Five or the Children's Crusade", "The Hobbit, or, There and Back Again": the subtitle
    is then "or ..."). None without a subtitle, and for a list of titles after the colon
    ("The Spy Who Came in from the Cold: Call for the Dead; A Murder of Quality; ...": an
    omnibus).
    """
    main, subtitle = split_alternate(shown)
    if not subtitle or ";" in subtitle:
        return None
    main_key, subtitle = normalize_title(main), fold(subtitle)
    return (main_key, subtitle) if main_key and subtitle else None


@dataclass
class Grouping:
    """Editions grouped into works by `group_editions`."""

    works: list[tuple[str, list[int]]]  # (the work's title key, its editions' indices)
    shown: list[str]  # each edition's `display_title`
    title_keys: list[str]  # each edition's title key; those that joined by subtitle (rule 3) differ from their work's
    author_keys: dict[str, str]  # `normalize_author` of each author string


def group_editions(titles: Sequence[str], authors: Sequence[str],
                   weights: Sequence[float] | None = None) -> Grouping:
    """Editions (parallel `titles`, `authors`) grouped into works.

    Args:
        titles: Each edition's title as the source gives it.
        authors: Each edition's author(s) as the source gives them.
        weights: How much each edition counts when groups are formed (e.g. its ratings);
            heavier names are grouped first.

    Editions whose title folds to nothing are left out.
    """
    weights = weights if weights is not None else [1.0] * len(titles)
    shown = [display_title(t) for t in titles]
    author_key = {a: normalize_author(a) for a in set(authors)}
    title_keys = [drop_article(fold(title)) for title in shown]
    by_title: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for i, (key, author) in enumerate(zip(title_keys, authors)):
        if key:
            by_title[key][author_key[author]].append(i)
    groups: dict[str, list[_Group]] = {}
    for key, by_author in by_title.items():
        if len(by_author) == 1:
            (eds,) = by_author.values()
            groups[key] = [_Group([name_tokens(authors[eds[0]])], eds)]
            continue
        items = [(name_tokens(authors[eds[0]]), sum(weights[i] for i in eds) + len(eds), eds) for eds in by_author.values()]
        groups[key] = _group_authors(items)
    _merge_subtitles(groups, shown)
    works = [(key, g.members) for key, key_groups in groups.items() for g in key_groups if g.members]
    return Grouping(works, shown, title_keys, author_key)


def _merge_subtitles(groups: dict[str, list[_Group]], shown: Sequence[str]) -> None:
    """Rule 3, in place: a "Main: Subtitle" group joins the one "Main" group its author agrees with.

    An alternate title ("Main, or Other", "Main or the Other") always joins. When that author has several titles that begin with "Main" ("Berserker:
    Blue Death", "Berserker Man", "Toot & Puddle: Top of the World", ...), "Main" names a
    series: only subtitles alike to the title most editions carry join, and only when those
    hold two thirds of the editions of all such titles, and none of those numbers a volume;
    the others stay works of their own. Titles that begin with "Main" but name another book
    too ("The Hobbit and The Lord of the Rings") or a study aid are no sign of a series.
    """
    proposals: dict[int, tuple[str, _Group, list[tuple[_Group, str]]]] = {}
    for key in list(groups):
        for group in groups[key]:
            mains = {_main_title(shown[i]) for i in group.members} - {None}
            if len(mains) != 1:
                continue
            main_key, subtitle = mains.pop()
            if main_key == key or main_key not in groups or not _may_be_subtitle(subtitle):
                continue
            hosts = [g for g in groups[main_key] if g.members and _agree(group, g)]
            if len(hosts) != 1:
                continue
            if _names_own_title(group, subtitle, groups):
                continue  # "The Lord of the Rings: The Two Towers": the subtitle is a book of its own
            proposals.setdefault(id(hosts[0]), (main_key, hosts[0], []))[2].append((group, subtitle))
    ordered = sorted(groups)
    receiving = set(proposals)
    for main_key, host, joining in proposals.values():
        mergeable = [(g, s) for g, s in joining if id(g) not in receiving]  # no chains
        proposed = {id(g) for g, _ in mergeable}
        start = bisect.bisect_left(ordered, main_key + " ")
        end = bisect.bisect_left(ordered, main_key + "!")  # "!" sorts right after " "
        rivals = [(g, key[len(main_key) + 1:]) for key in ordered[start:end] for g in groups[key]
                  if g.members and id(g) not in proposed and _agree(g, host)]
        # A rival that adds another book ("The Hobbit and The Lord of the Rings") or is a study
        # aid is no volume of a series called "Main": it says nothing about the subtitles.
        rivals = [(g, sub) for g, sub in rivals if not (sub.startswith("and ") or _GUIDE.search(sub))]
        for group, _ in _alike_majority(mergeable, rivals):
            host.members.extend(group.members)
            host.names.extend(group.names)
            group.members = []


def _may_be_subtitle(subtitle: str) -> bool:
    """Whether a folded subtitle can belong to the main title's work: not a volume, omnibus or study guide."""
    return not (_VOLUME.search(subtitle) or subtitle.startswith("and ") or _GUIDE.search(subtitle))


def _alike_majority(mergeable: list[tuple[_Group, str]], rivals: list[tuple[_Group, str]]) -> list[tuple[_Group, str]]:
    """The mergeable (group, subtitle) that join the main title's work.

    Alternate titles ("or ...") count as one subtitle and always join. Other subtitles join
    when they are alike to the one most editions carry (a tie is no majority) and, with the
    alternates, hold 2/3 of the editions of all.
    """
    if any(_VOLUME.search(s) for _, s in rivals):
        return []  # "Independence Day 3: War in the Desert" beside "Independence Day: Silent Zone": a series
    family = lambda s: "or" if s.startswith("or ") else s  # noqa: E731
    everyone = mergeable + rivals
    if len({family(s) for _, s in everyone}) <= 1:
        return mergeable
    size: dict[str, int] = {}
    for group, s in everyone:
        size[family(s)] = size.get(family(s), 0) + len(group.members)
    best = max(size, key=lambda s: (size[s], s))
    alike = {s for s in size if s == best or ("or" not in (s, best) and fuzz.token_set_ratio(s, best) >= 80)}
    joining = {"or"}
    if not any(size[s] >= sum(size[a] for a in alike) for s in size if s not in alike):  # a tie is no majority
        joining |= alike
    if 3 * sum(size.get(s, 0) for s in joining) < 2 * sum(size.values()):
        joining = {"or"}
    return [(g, s) for g, s in mergeable if family(s) in joining]


def _names_own_title(group: _Group, subtitle: str, groups: dict[str, list[_Group]]) -> bool:
    """Whether `subtitle` is the title of another work by `group`'s author ("The Two Towers")."""
    own = groups.get(drop_article(subtitle.removeprefix("or ")), [])
    return any(_agree(group, g) for g in own if g.members and g is not group)


def _agree(a: _Group, b: _Group) -> bool:
    """Whether some author of `a` is one person with every author of `b`."""
    return any(all(same_person(x, y) for y in b.names) for x in a.names)


# --- finding a work by its key ------------------------------------------------------------


def find_by_key(key: str, works_titled: Callable[[str], Sequence[tuple[int, str, str, int]]]) -> int | None:
    """The work a work key names, also a key stored before the current merge rule.

    Keys live on in shelves across retrains, and the rule that forms works changes: an
    older key may keep a leading article ("the hobbit|..."), a genre subtitle ("lovely
    bones a novel|...") or a subtitle its edition has since been merged by, or spell the
    author another way ("crime and punishment|dostoevsky fyodor"). The key is read the
    current way: its title as a title key, then without a genre subtitle, then its
    leading words as a main title (rule 3's guards apply to the words left over); its
    author must be the work's own, or one person with it (rule 2).

    Args:
        key: A work key (`normalize.work_key`), current or older.
        works_titled: title key -> the works with that title key, as (id, title, author, likes).

    Returns:
        The id of the work (the most liked when several fit), or None.
    """
    title, sep, author = key.partition("|")
    title = fold(title)
    if not sep or not title:
        return None
    for reading in _title_readings(title):
        works = works_titled(reading)
        exact = [w for w in works if normalize_author(w[2]) == author]
        fitting = exact or [w for w in works if _key_author_agrees(author, w[2])]
        if fitting:
            return max(fitting, key=lambda w: (w[3], -w[0]))[0]
    return None


def _title_readings(title: str) -> Iterator[str]:
    """Title keys a folded title from a key may stand for, the likeliest first (itself: a current key)."""
    seen: set[str] = set()

    def fresh(reading: str) -> bool:
        new = bool(reading) and reading not in seen
        seen.add(reading)
        return new

    for reading in (title, drop_article(title)):
        if fresh(reading):
            yield reading
    words = title.split()
    for noise in NOISE_SUBTITLES:  # the colon before "A Novel" is gone from a key
        if title.endswith(" " + noise) and len(words) > len(noise.split()) and fresh(reading := drop_article(title[:-len(noise) - 1])):
            yield reading
    for n in range(len(words) - 1, 0, -1):  # "alchemist a fable about following your dream"
        main = drop_article(" ".join(words[:n]))
        if main not in ARTICLES and _may_be_subtitle(" ".join(words[n:])) and fresh(main):
            yield main


def _key_author_agrees(key_author: str, author: str) -> bool:
    """Whether a key's author part (folded words, sorted) is one person with `author`.

    The key lost the words' order, so the orders of its words are tried (up to five words;
    beyond that, each word as the surname).
    """
    words = key_author.split()
    if not words:
        return not normalize_author(author)
    theirs = name_tokens(author)
    orders = itertools.permutations(words) if len(words) <= 5 else \
        (words[:i] + words[i + 1:] + [words[i]] for i in range(len(words)))
    return any(same_person(name_tokens(" ".join(order)), theirs) for order in orders)

