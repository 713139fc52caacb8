"""The rules every list passes through, whatever model ordered it.

The engine walks a model's candidates best first (after the rarity setting) and asks
`ListRules` about each; `rarereads eval --served` gets its lists the same way, for every
model, so a rule's cost is never mistaken for a model's weakness. A candidate is passed
over, and counted under its reason in `RecommendationList.skipped`, when it is

- `language`: in another language than the books asked about (unless `lang=any`);
- `support`: liked by fewer co-readers than the rarity setting asks (`Rarity.min_support`);
  a co-reader is a training reader who liked the candidate and a book asked about;
- `kind`: a book to use (a cookbook, guide, reference or picture book: `engine.profiles.
  PRACTICAL`) for a reader none of whose books is one; of another genre than the reader's
  books (`engine.profiles`) without strong evidence, i.e. `STRONG_SUPPORT` co-readers who
  make up `STRONG_SHARE` of its readers; or of a
  neighbouring genre (a literary classic for a fantasy reader) without `NEIGHBOUR_SUPPORT`
  co-readers who make up `NEIGHBOUR_SHARE` of its readers; only books of the reader's own
  genre may rest on a single co-reader. A book by the writer of one of the reader's books counts
  one step closer (another genre as a neighbour, a neighbour as the reader's own genre), unless it
  crosses between fiction and nonfiction (`Profiles.story`);
- `same_book`: one of the books asked about, another edition of one (also one whose title is spelled a
  letter apart, "Siddartha" for *Siddhartha*, or its number in words, *Nineteen Eighty-Four* for
  *1984*: `editions.spelt_alike`), or its own series
  (*Children of Dune*; *R Is for Ricochet* for *Q Is for Quarry*: one author, one series
  note, unless the note names a publisher's line such as Penguin Classics, `Catalogue.is_line`;
  *Second Summer of the Sisterhood*: one author, a distinctive title word; *Scarpetta's Winter
  Table* for a "Kay Scarpetta" novel: the writer's title names the series) or
  universe (*House Atreides*, "Dune: House Trilogy", by another author; a companion whose
  title holds the book's: *Don't Panic: ... The Hitchhiker's Guide to the Galaxy*), or a book
  about its author by someone else (*The Stephen King Universe*);
- `later_volume`: a later volume of a series (its editions say "Book 8"): a reader new to the
  series is better handed its first volume (*The Path of Daggers* is the Wheel of Time's
  eighth);
- `diversity`: past `MAX_PER_AUTHOR` books by one author (one person however the name is
  written: Tom Peters is Thomas J. Peters) or `MAX_PER_SERIES` per series (a title stem, "harry
  potter", or a series note that is no publisher's line: *Dealing with Dragons* and *Searching for
  Dragons*, "Enchanted Forest Chronicles").

Numpy only.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import numpy as np

from .editions import name_tokens, same_person, spelt_alike
from .kinds import BOOK
from .normalize import ARTICLES, fold, main_title, normalize_author, note_form, series_key, series_volume, split_alternate
from .profiles import Profiles, mostly_stories
from .results import Work

SKIP_REASONS = ("language", "same_book", "support", "kind", "later_volume", "diversity")
MAX_PER_AUTHOR = 2
MAX_PER_SERIES = 1
LINE_AUTHORS = 5  # a series note on books of more authors than this names a publisher's line (Penguin Classics)
KIND_SUPPORT = 3  # co-readers a pick of another kind needs when no genre profile is known (title rules only)
STRONG_SUPPORT = 5  # co-readers a pick of another genre than the reader's needs ...
STRONG_SHARE = 0.3  # ... who are at least this share of its readers (it is *their* book, not everyone's)
# co-readers a pick of a neighbouring genre needs (a classic every reader names has few): the blind
# reads 2001-3006 scored such picks 0.74 on 3 or 4 co-readers (41% mismatches), 1.1 on 5 or more;
# at 5, the picks that took their places in fresh reads 3007 and 3008 scored 1.13 against 0.70 ...
NEIGHBOUR_SUPPORT = 5
NEIGHBOUR_SHARE = 0.2  # ... who are at least this share of its readers
FITS = 0.5  # genre fit (`Profiles.fit`) from which a pick is of the reader's kind: the same or a neighbouring genre
OWN_GENRE = 0.99  # genre fit of a pick of the reader's own genre


# Pen names of prolific authors, each to the name the author is best known by: one writer for the
# rules (at most two books an author: *The Regulators* by "Richard Bachman" is Stephen King's).
# Editions are merged by the names they carry (`engine.editions`), not through this table.
_PEN_NAMES = {
    "stephen king": ("richard bachman",),
    "j k rowling": ("robert galbraith",),
    "nora roberts": ("j d robb",),
    "agatha christie": ("mary westmacott",),
    "ruth rendell": ("barbara vine",),
    "anne rice": ("anne rampling", "a n roquelaure"),
    "dean r koontz": ("leigh nichols", "owen west", "brian coffey", "david axton", "k r dwyer", "aaron wolfe",
                      "deanna dwyer"),
    "evan hunter": ("ed mcbain",),
    "donald e westlake": ("richard stark", "tucker coe"),
    "michael crichton": ("john lange", "jeffery hudson"),
    "isaac asimov": ("paul french",),
    "joyce carol oates": ("rosamond smith", "lauren kelly"),
    "barbara michaels": ("elizabeth peters",),
    "victoria holt": ("jean plaidy", "philippa carr"),
    "jayne ann krentz": ("amanda quick", "jayne castle"),
    "sophie kinsella": ("madeleine wickham",),
    "daniel handler": ("lemony snicket",),
}
_PEN_OF = {name_tokens(pen): name_tokens(real) for real, pens in _PEN_NAMES.items() for pen in pens}


@functools.lru_cache(maxsize=1 << 16)
def writer(author: str) -> tuple[str, ...]:
    """The person behind a name (`name_tokens`), a pen name read as its author's best-known name
    ("Richard Bachman" -> stephen king)."""
    tokens = name_tokens(author)
    return _PEN_OF.get(tokens, tokens)


# Author fields that name nobody: no writer's other books follow from them.
NOBODY = frozenset({(), ("anonymous",), ("various",), ("unknown",), ("not", "applicable", "na"), ("various", "authors")})


def writer_codes(authors) -> np.ndarray:
    """int32 [n]: each work's `writer` as a number (one per person, pen names included), -1 where
    the author field names nobody ("Anonymous", "Various", "Not Applicable (Na)")."""
    by_field: dict[str, int] = {}
    by_person: dict[tuple[str, ...], int] = {}
    codes = np.empty(len(authors), np.int32)
    for i, field_ in enumerate(authors):
        code = by_field.get(field_)
        if code is None:
            person = writer(field_)
            code = by_field[field_] = -1 if person in NOBODY else by_person.setdefault(person, len(by_person))
        codes[i] = code
    return codes


_COMMON = frozenset("about after again against among before being between little great story stories other "
                    "there their these those through under where which while world night light house years".split())


def _distinctive(words) -> bool:
    """Whether shared title words name a series: one of five letters or more that is not a common word
    ("Sisterhood" of *The Sisterhood of the Traveling Pants* and *Second Summer of the Sisterhood*)."""
    return any(len(w) >= 5 and w not in _COMMON for w in words)


def series_stem(title: str) -> str:
    """Shared beginning of a series' titles ("harry potter" for every Harry Potter book).

    The first two words that are not an article, of the part before a colon; a one-word
    title has no stem (it would lump "Dune" with "Dune Road").
    """
    words = [w for w in fold(title.split(":")[0]).split() if w not in ARTICLES]
    return " ".join(words[:2]) if len(words) >= 2 else ""


@dataclass
class Catalogue:
    """What the rules read about every work (arrays parallel to the catalogue)."""

    likes: np.ndarray  # int64 training likes
    language: np.ndarray  # uint8 (0 = unknown)
    kind: np.ndarray  # uint8, `engine.kinds` (the title rules; used where no profile is known)
    series: object  # the works' series notes (a sequence of str)
    profiles: Profiles | None  # genre profiles, when the model folder has them
    authors: object  # the works' authors (a sequence of str): writers, and a publisher's line from a series
    writers: np.ndarray = field(init=False)  # `writer_codes` of the authors: the author order, reasons, `kind`
    # Series keys that name a publisher's line, not a series: notes shared by books of more than
    # `LINE_AUTHORS` authors (by surname: "Penguin Classics", "Harlequin Presents", "Dover Thrift
    # Editions"). Worked out when the engine loads (0.7 s at the shipped size), not at a reader's request.
    lines: frozenset[str] = field(init=False)
    # Notes (without volume or leading article) of one writer alone: a series even where its key is a
    # line's ("Vampire Chronicles" is Anne Rice's; "vampire" is also the key of "Vampire: The
    # Masquerade Novels", a game's line of a dozen writers).
    sole_notes: frozenset[str] = field(init=False)

    # Each noted work's (series key, whether its note is a line), read once here, not per candidate.
    _keys: dict[int, tuple[str, bool]] = field(init=False)

    def __post_init__(self) -> None:
        self.writers = writer_codes(self.authors)
        surnames: dict[str, set[tuple[str, ...]]] = {}
        by_note: dict[str, set[tuple[str, ...]]] = {}
        forms: dict[int, tuple[str, str]] = {}
        for i, note in enumerate(self.series):
            if note and (key := series_key(note)):
                surname = name_tokens(self.authors[i])[-1:]
                forms[i] = key, note_form(note)
                surnames.setdefault(key, set()).add(surname)
                by_note.setdefault(forms[i][1], set()).add(surname)
        self.lines = frozenset(key for key, names in surnames.items() if len(names) > LINE_AUTHORS)
        self.sole_notes = frozenset(note for note, names in by_note.items() if len(names) == 1)
        self._keys = {i: (key, key in self.lines and form not in self.sole_notes) for i, (key, form) in forms.items()}

    def is_line(self, note: str) -> bool:
        """Whether a series note names a publisher's line rather than a series (`lines`, `sole_notes`)."""
        return series_key(note) in self.lines and note_form(note) not in self.sole_notes

    def key(self, work_id: int) -> str:
        """The series key of a work's note ("" without one)."""
        return self._keys.get(int(work_id), ("", False))[0]

    def own_key(self, work_id: int) -> str:
        """The series key of a work's note unless the note names a publisher's line ("" then)."""
        key, line = self._keys.get(int(work_id), ("", False))
        return "" if line else key


@dataclass
class Request:
    """One list being filled: what its books are, and what it holds so far."""

    languages: set[int] | None  # wanted language codes (None: any)
    min_support: int
    banned_ids: set[int]
    banned_keys: set[str]
    query_kinds: set[int]
    query_series: set[tuple[str, str]]  # (title stem, author) of the books asked about
    query_words: dict[str, list[frozenset]]  # author -> title words of each book asked about
    universes: set[frozenset[str]]  # the words of the series keys of the books asked about that name their universe
    own_series: list[tuple[tuple[str, ...], str, frozenset[str]]]  # (author's name tokens, series key, its words
    # read as singulars) of the books asked about
    title_phrases: list[str]  # " folded main title " of the books asked about with two words or more
    authors_named: list[tuple[tuple[str, ...], tuple[str, ...]]]  # (author's name tokens, " name " phrases)
    mix: np.ndarray | None  # the reader's genre mix (None: no profiles)
    adult: bool
    practical: bool  # whether any book asked about is a book to use (a cookbook, a guide)
    writers: frozenset[int]  # `writer_codes` of the books asked about (their writers' other books: `kind`)
    stories: bool  # whether the books asked about are mostly novels and stories (`engine.profiles.STORIES`)
    mains: list[tuple[str, tuple[str, ...]]]  # (`main_title`, its writer) of the books asked about
    enabled: frozenset[str]  # the rules that apply (all of SKIP_REASONS, unless an evaluation turns one off)
    people: list[tuple[tuple[str, ...], int]] = field(default_factory=list)  # (author's name tokens, picks)
    per_series: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SKIP_REASONS, 0))


class ListRules:
    """The list rules over one catalogue (see the module docstring)."""

    def __init__(self, catalogue: Catalogue, enabled=SKIP_REASONS):
        self.catalogue = catalogue
        unknown = set(enabled) - set(SKIP_REASONS)
        if unknown:
            raise ValueError(f"unknown rules {sorted(unknown)}; the rules are {', '.join(SKIP_REASONS)}")
        self.enabled = frozenset(enabled)

    def start(self, liked: list[Work], min_support: int, languages: set[int] | None, exclude=()) -> Request:
        """A request for picks for the books `liked` (ids and keys in `exclude` are never picked)."""
        c = self.catalogue
        ids = [w.id for w in liked]
        query_series = {(stem, normalize_author(w.author)) for w in liked if (stem := series_stem(w.title))}
        # "Children of Dune" is Dune's own series too: same author, every word of the query's title.
        query_words: dict[str, list[frozenset]] = {}
        for w in liked:
            words = frozenset(fold(w.title).split()) - ARTICLES
            if words:
                query_words.setdefault(normalize_author(w.author), []).append(words)
        # A series note names the query's universe when its key's words are in the query's title:
        # Dune's "Dune Chronicles" ("dune"); not "Harlequin Presents" or "Penguin Classics".
        universes = set()
        for w in liked:
            key = c.key(w.id)
            if key and set(key.split()) <= set(fold(w.title).split()):
                universes.add(frozenset(_singular(x) for x in key.split()))
        own_series = [(writer(w.author), key, frozenset(_singular(x) for x in key.split())) for w in liked
                      if (key := c.own_key(w.id))]
        phrases = [f" {main} " for w in liked
                   if len((main := fold(split_alternate(w.title)[0])).split()) - (main.split()[0] in ARTICLES) >= 2]
        authors_named = [(person, named) for w in liked if (named := _name_phrases(person := writer(w.author)))]
        mix, adult = (c.profiles.of(ids) if c.profiles is not None else (None, True))
        practical = bool(c.profiles.practical(ids).any()) if c.profiles is not None else True
        return Request(languages, min_support, set(ids) | {int(x) for x in exclude if not isinstance(x, str)},
                       {w.key for w in liked} | {x for x in exclude if isinstance(x, str)},
                       {int(c.kind[i]) for i in ids}, query_series, query_words, universes, own_series, phrases,
                       authors_named, mix if mix is not None and mix.any() else None, adult, practical,
                       frozenset(int(x) for x in c.writers[ids] if x >= 0), mostly_stories(mix),
                       [(main_title(w.title), writer(w.author)) for w in liked], self.enabled)

    def fits(self, request: Request, candidates: np.ndarray) -> np.ndarray:
        """How well each candidate's genre fits the reader's (`Profiles.fit`; NaN where unknown), for `passes`."""
        if request.mix is None:
            return np.full(len(candidates), np.nan)
        return self.catalogue.profiles.fit(request.mix, request.adult, candidates)

    def passes(self, request: Request, candidate: int, support: int | None, fit: float = np.nan) -> str | None:
        """Why `candidate` is passed over before its record is built (language, support, kind), or None.

        `fit`: its genre fit (`fits`), NaN when unknown."""
        c = self.catalogue
        if candidate in request.banned_ids:
            return "same_book"
        on = request.enabled
        if "language" in on and request.languages is not None and c.language[candidate] and \
                c.language[candidate] not in request.languages:
            return "language"
        if "support" in on and support is not None and support < request.min_support:
            return "support"
        if "kind" in on and self._off_kind(request, candidate, support, fit):
            return "kind"
        return None

    def _off_kind(self, request: Request, candidate: int, support: int | None, fit: float) -> bool:
        c = self.catalogue
        if np.isnan(fit):  # no profile: the title rules alone (a study guide or a board book for a novel)
            return c.kind[candidate] != BOOK and int(c.kind[candidate]) not in request.query_kinds and \
                (support or 0) < KIND_SUPPORT
        if support is None:
            return fit < FITS
        if fit < FITS and not request.practical and c.profiles.practical([candidate])[0]:
            return True  # a cookbook, guide or picture book for a reader of novels: never, whatever the evidence
        if fit >= OWN_GENRE:
            return False
        likes = max(int(c.likes[candidate]), 1)
        # A writer of the reader's books vouches for their other books, one step closer to the reader's
        # genre, but not across fiction and nonfiction (a novelist's essays, a historian's novel).
        theirs = int(c.writers[candidate]) in request.writers and \
            bool(c.profiles.story([candidate])[0]) == request.stories
        if fit < FITS and not theirs:  # another kind of book: only on strong, specific evidence
            return not (support >= STRONG_SUPPORT and support >= STRONG_SHARE * likes)
        if fit < FITS or not theirs:  # a neighbouring genre: on evidence specific to the reader's books
            return not (support >= NEIGHBOUR_SUPPORT and support >= NEIGHBOUR_SHARE * likes)
        return False

    def place(self, request: Request, work: Work) -> str | None:
        """Why the built `work` is passed over (same book, series or universe; diversity), or None;
        when None it takes its place in the list."""
        author, stem, person = normalize_author(work.author), series_stem(work.title), writer(work.author)
        if work.key in request.banned_keys:
            return "same_book"  # another listing of a book asked about, or one the reader has
        if "same_book" in request.enabled and self._own_series(request, work, author, stem, person):
            return "same_book"
        if "later_volume" in request.enabled and series_volume(self.catalogue.series[work.id]) >= 2:
            return "later_volume"
        if "diversity" in request.enabled:
            slot = next((i for i, (other, _) in enumerate(request.people) if person and same_person(person, other)), None)
            # One series: a title stem ("harry potter") or a series note that is no publisher's line
            # (*Dealing with Dragons* and *Searching for Dragons*, "Enchanted Forest Chronicles").
            key = self.catalogue.own_key(work.id)
            groups = [g for g in (stem, key and f"{key} #") if g]
            if (slot is not None and request.people[slot][1] >= MAX_PER_AUTHOR) or any(
                    request.per_series.get(g, 0) >= MAX_PER_SERIES for g in groups):
                return "diversity"
            if slot is None:
                request.people.append((person, 1))
            else:
                request.people[slot] = (person, request.people[slot][1] + 1)
            for g in groups:
                request.per_series[g] = request.per_series.get(g, 0) + 1
        return None

    def _own_series(self, request: Request, work: Work, author: str, stem: str, person: tuple[str, ...]) -> bool:
        """The query's own series (same author: "Children of Dune", or the series its editions
        name: "R Is for Ricochet" beside "Q Is for Quarry", both "Kinsey Millhone Mysteries") or
        universe (whoever wrote it: House Atreides, "Dune: House Trilogy", for Dune's "Dune
        Chronicles"; by its writer: "New Tales of the Vampires" for "Vampire Chronicles"), a book of the
        writer's whose title names the series (*Scarpetta's Winter Table* for "Kay Scarpetta"), or
        several of the writer's books in one volume."""
        main = main_title(work.title)
        if any(spelt_alike(main, theirs) and same_person(person, who) for theirs, who in request.mains):
            return True  # the book asked about in an edition that spelled it a letter apart ("Siddartha")
        folded = fold(work.title)
        title_words = set(folded.split())
        if int(self.catalogue.writers[work.id]) in request.writers and any(
                _COLLECTED.search(t) for t in {folded, fold(split_alternate(work.title)[0])}):
            return True  # the writer's books in one volume: "Three Plums in One", "Sue Grafton: Three Complete Novels"
        if (stem, author) in request.query_series or (author in request.query_words and any(
                words <= title_words or _distinctive(words & title_words) for words in request.query_words[author])):
            return True
        title = f" {folded} "
        if any(phrase in title for phrase in request.title_phrases):
            return True  # a companion or guide to the book asked about: "Don't Panic: ... The Hitchhiker's Guide ..."
        if any(any(p in title for p in phrases) and not same_person(person, theirs)
               for theirs, phrases in request.authors_named):
            return True  # a book about the author asked about: "The Stephen King Universe" by Stan Wiater
        named = {_singular(w) for w in title_words}
        if any(_distinctive(named & words) and same_person(person, who) for who, _, words in request.own_series):
            return True  # the writer's book named after the series: "Scarpetta's Winter Table" for "Kay Scarpetta"
        key = self.catalogue.key(work.id)
        if not key:
            return False
        words = {_singular(w) for w in key.split()}
        if any(universe <= words for universe in request.universes):
            return True  # "prelude to dune" (goodbooks' name for House Atreides' series) is Dune's universe
        return any(_one_series(words, theirs) and same_person(person, who) for who, _, theirs in request.own_series)


def _name_phrases(person: tuple[str, ...]) -> tuple[str, ...]:
    """How a title names an author, as " folded " phrases: given name and surname, possessive too
    ("stephen king", "stephen kings"); initials joined or not ("jrr tolkien", "j r r tolkien"). None
    for a one-word name (a surname alone is too often a common word: King)."""
    if len(person) < 2:
        return ()
    given, last = person[:-1], person[-1]
    names = {f"{' '.join(given)} {last}", f"{''.join(given)} {last}"} if all(len(g) == 1 for g in given) \
        else {f"{given[0]} {last}"}
    return tuple(f" {n}{end} " for n in sorted(names) for end in ("", "s"))


def _one_series(a_words: set[str] | frozenset[str], b_words: set[str] | frozenset[str]) -> bool:
    """Whether two series keys of one author, as their words read as singulars, name one series: one's
    words are all the other's ("hitchhiker" of "Hitchhiker's Trilogy" and "hitchhiker guide to
    galaxy"; "vampire" of "Vampire Chronicles" and "new tales vampires")."""
    return bool(a_words) and bool(b_words) and (a_words <= b_words or b_words <= a_words)


def _singular(word: str) -> str:
    """A plural series word read as its singular ("vampires" -> "vampire"; "hitchhikers" too)."""
    return word[:-1] if len(word) > 4 and word.endswith("s") and not word.endswith("ss") else word


# A title that gathers several of its writer's books in one volume (on the folded title, or the part
# before its colon: "Three Plums in One: One for the Money, ...").
_COLLECTED = re.compile(r"\b((two|three|four|five|\d) (complete |great |classic )?novels|complete novels|novels in one|"
                        r"omnibus|box(ed)? set|\d in \d)\b|\b(two|three|four|five|\w+s) in one$")
