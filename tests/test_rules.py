"""Engine.recommend's pick rules (language, kind, support floor, same book, diversity) on tiny model folders.

Each test writes a folder where the order is known in advance: the books asked about have
the query vector e0 and every other book the target `score * e0`, so the model ranks the
others by `score`; fans say how many of the asked-about books' readers liked each other
book (its co-readers). `k` is larger than the catalogue, so every candidate meets the
rules and `skipped` counts exactly the books each rule passed over.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from engine import profiles
from engine import rarity as rarities
from engine.dataset import Works
from engine.errors import InvalidInput
from engine.kinds import AID, BOOK, CHILDREN
from engine.modelfolder import write_model_folder
from engine.rarity import RARITIES
from engine.recommender import Engine
from engine.rules import KIND_SUPPORT, LINE_AUTHORS, NEIGHBOUR_SHARE, NEIGHBOUR_SUPPORT, SKIP_REASONS, STRONG_SHARE, STRONG_SUPPORT

SEED_READERS = 40  # readers 0..39 liked each book asked about


@dataclass(frozen=True)
class Book:
    title: str
    author: str
    isbns: str = ""
    score: float = 0.0  # the model's score for the seed's readers; higher is picked first
    co_readers: int = 1  # readers who liked it and the books asked about
    likes: int = 5  # training likes (at most rarity.DEEP_MAX_LIKES: allowed under every rarity)
    publisher: str = ""
    genre: str = ""  # its genre profile (engine.profiles code); "" = none (the folder then has no profiles)
    audience: str = "adult"
    series: str = ""  # the series note its editions name


def build(path, seeds: list[Book], others: list[Book]) -> Engine:
    """The engine on a folder of `seeds` (ids 0..) and `others` (ids after them)."""
    books = [*seeds, *others]
    n = len(books)
    query = np.zeros((n, 2), np.float32)
    target = np.zeros((n, 2), np.float32)
    query[:len(seeds), 0] = 1
    query[len(seeds):, 1] = 1
    target[len(seeds):, 0] = [b.score for b in others]
    likes = np.array([SEED_READERS] * len(seeds) + [b.likes for b in others], np.int64)
    readers, outsider = [], 1000
    for b in seeds:
        readers.append(np.arange(SEED_READERS))
    for b in others:
        assert b.co_readers <= b.likes
        readers.append(np.concatenate([np.arange(b.co_readers), np.arange(outsider, outsider + b.likes - b.co_readers)]))
        outsider += b.likes
    fans = (np.concatenate([[0], np.cumsum([len(r) for r in readers])]), np.concatenate(readers))
    works = Works([b.title for b in books], [b.author for b in books], np.full(n, 1990, np.int32), [""] * n,
                  [b.isbns for b in books], [b.publisher for b in books], [b.series for b in books])
    profile = None
    if any(b.genre for b in books):
        genres = np.zeros((n, profiles.N_GENRES))
        audience = np.zeros((n, len(profiles.AUDIENCES)))
        for i, b in enumerate(books):
            if b.genre:
                genres[i, profiles.INDEX[b.genre]] = 1
                audience[i, profiles.AUDIENCES.index(b.audience)] = 1
        profile = profiles.encode(genres, audience)
    folder = write_model_folder(path / "model", works=works, likes=likes, query=query, target=target, fans=fans,
                                config={}, metrics={}, data_fingerprint="rules", profile=profile)
    # The fixture's own premise: every other book passes every rarity's filter (the head is the seeds).
    for name in RARITIES:
        assert rarities.allowed(likes, name)[len(seeds):].all(), name
    return Engine.from_folder(folder)


def titles(result) -> list[str]:
    return [p.work.title for p in result.picks]


# --- language ---------------------------------------------------------------------------

DUNE = Book("Dune", "Frank Herbert", "0441172660")  # group 0: English
SCHWARM = Book("Der Schwarm", "Frank Schätzing", "3596164532", score=0.9)  # group 3: German
VERMESSUNG = Book("Die Vermessung der Welt", "Daniel Kehlmann", "3498035282|9783498035280", score=0.8)
SOLARIS = Book("Solaris", "Stanislaw Lem", "0156027607", score=0.7)
PICNIC = Book("Roadside Picnic", "Arkady Strugatsky", "", score=0.6)  # no ISBN: language unknown
NUIT = Book("La Nuit des temps", "René Barjavel", "2266115886", score=0.5)  # group 2: French
DISPOSSESSED = Book("The Dispossessed", "Ursula K. Le Guin", "0061054887", score=0.4)
SHELF = [SCHWARM, VERMESSUNG, SOLARIS, PICNIC, NUIT, DISPOSSESSED]


@pytest.fixture(scope="module")
def dune_engine(tmp_path_factory):
    return build(tmp_path_factory.mktemp("lang"), [DUNE], SHELF)


def test_an_english_reader_gets_no_german_picks_by_default(dune_engine):
    """Dune's reader is not handed Der Schwarm although the model likes it best; books of
    unknown language (no ISBN) still come."""
    result = dune_engine.recommend([0], k=10)
    assert titles(result) == ["Solaris", "Roadside Picnic", "The Dispossessed"]
    assert result.skipped["language"] == 3  # two German, one French


def test_lang_any_lets_every_language_in(dune_engine):
    """lang=any: the model's own order, German books first."""
    result = dune_engine.recommend([0], k=10, lang="any")
    assert titles(result) == [b.title for b in SHELF]
    assert result.skipped["language"] == 0


def test_lang_de_gives_german_only(dune_engine):
    """lang=de (any case): German picks, plus books whose language is unknown, for an English book."""
    for lang in ("de", " DE "):
        result = dune_engine.recommend([0], k=10, lang=lang)
        assert titles(result) == ["Der Schwarm", "Die Vermessung der Welt", "Roadside Picnic"]
        assert result.skipped["language"] == 3  # Solaris, La Nuit des temps, The Dispossessed


def test_an_unknown_lang_is_invalid_input(dune_engine):
    with pytest.raises(InvalidInput, match="klingon"):
        dune_engine.recommend([0], lang="klingon")


def test_a_german_reader_gets_german_picks(tmp_path):
    """The filter follows the book asked about: Der Schwarm's reader gets German and unknown-language books."""
    engine = build(tmp_path, [Book("Der Schwarm", "Frank Schätzing", "3596164532")],
                   [SOLARIS, VERMESSUNG, PICNIC, DISPOSSESSED])
    result = engine.recommend([0], k=10)
    assert titles(result) == ["Die Vermessung der Welt", "Roadside Picnic"]
    assert result.skipped["language"] == 2


def test_a_bilingual_shelf_gets_both_languages(tmp_path):
    """A shelf of one English and one German book gets picks in both, not in French."""
    engine = build(tmp_path, [DUNE, Book("Tintenherz", "Cornelia Funke", "3791504657")], SHELF)
    result = engine.recommend([0, 1], k=10)
    assert titles(result) == ["Der Schwarm", "Die Vermessung der Welt", "Solaris", "Roadside Picnic",
                              "The Dispossessed"]
    assert result.skipped["language"] == 1


# --- kind -------------------------------------------------------------------------------

GUIDE = "Dune Study Guide"
BOARD = "Dinosaur Board Books: Stegosaurus"


def kind_shelf(co_readers: int) -> list[Book]:
    return [Book(GUIDE, "Gale Cengage Learning", score=0.9, co_readers=co_readers),
            Book(BOARD, "Dorling Kindersley", score=0.8, co_readers=co_readers),
            Book("Solaris", "Stanislaw Lem", score=0.7),
            Book("The Dispossessed", "Ursula K. Le Guin", score=0.6)]


def test_a_novels_reader_gets_no_study_guide_or_board_book_on_thin_evidence(tmp_path):
    """A study guide and a board book that a couple of Dune's readers liked do not follow Dune,
    even when they score highest."""
    engine = build(tmp_path, [DUNE], kind_shelf(KIND_SUPPORT - 1))
    assert engine.kind.tolist() == [BOOK, AID, CHILDREN, BOOK, BOOK]  # the fixture's premise, from the titles
    result = engine.recommend([0], k=10)
    assert titles(result) == ["Solaris", "The Dispossessed"]
    assert result.skipped["kind"] == 2
    assert titles(engine.recommend([0], k=10, rarity="deep")) == ["Solaris", "The Dispossessed"]  # every rarity


def test_another_kind_with_enough_co_readers_is_picked(tmp_path):
    """With KIND_SUPPORT co-readers the evidence is strong enough: the study guide and the board book come."""
    engine = build(tmp_path, [DUNE], kind_shelf(KIND_SUPPORT))
    result = engine.recommend([0], k=10)
    assert titles(result) == [GUIDE, BOARD, "Solaris", "The Dispossessed"]
    assert result.skipped["kind"] == 0
    assert [p.support for p in result.picks[:2]] == [KIND_SUPPORT, KIND_SUPPORT]


def test_a_childrens_book_reader_may_get_childrens_books(tmp_path):
    """Asked about a lift-the-flap book, a board book needs no more evidence than a novel; a study guide does."""
    spot = Book("Where's Spot? (Lift-the-Flap Book)", "Eric Hill")
    engine = build(tmp_path, [spot], [Book("Charlotte's Web Study Guide", "Novel Units", score=0.9),
                                      Book(BOARD, "Dorling Kindersley", score=0.8),
                                      Book("Goodnight Moon", "Margaret Wise Brown", score=0.7)])
    assert engine.kind.tolist() == [CHILDREN, AID, CHILDREN, BOOK]
    result = engine.recommend([0], k=10)
    assert titles(result) == [BOARD, "Goodnight Moon"]
    assert result.skipped["kind"] == 1


# --- support floor ----------------------------------------------------------------------

def test_rare_needs_a_co_reader_deep_does_not(tmp_path):
    """Under `rare` a pick that no reader of Dune liked is left out; `deep` (the long tail,
    where one reader is the usual evidence) lists it and says its support is 0."""
    assert RARITIES["rare"].min_support == 1 and RARITIES["deep"].min_support == 0
    engine = build(tmp_path, [DUNE], [Book("Solaris", "Stanislaw Lem", score=0.9, co_readers=0),
                                      Book("The Dispossessed", "Ursula K. Le Guin", score=0.8, co_readers=1),
                                      Book("Lord of Light", "Roger Zelazny", score=0.7, co_readers=0),
                                      Book("Nova Swing", "M. John Harrison", score=0.6, co_readers=2)])
    rare = engine.recommend([0], k=10, rarity="rare")
    assert titles(rare) == ["The Dispossessed", "Nova Swing"]
    assert rare.skipped["support"] == 2
    deep = engine.recommend([0], k=10, rarity="deep")
    assert titles(deep) == ["Solaris", "The Dispossessed", "Lord of Light", "Nova Swing"]
    assert [p.support for p in deep.picks] == [0, 1, 0, 2] and deep.skipped["support"] == 0


# --- the query's own book and series ----------------------------------------------------

def test_the_querys_other_editions_and_own_series_are_not_picked(tmp_path):
    """Dune's reader is not offered Dune again (another listing), Dune Messiah or Children of Dune;
    another book by Herbert, and a "Dune" title by someone else, are fine."""
    engine = build(tmp_path, [DUNE], [Book("Dune Messiah", "Frank Herbert", score=0.9),
                                      Book("Children of Dune", "Frank Herbert", score=0.85),
                                      Book("DUNE", "FRANK HERBERT", score=0.8),  # same work key
                                      Book("Dune Road", "Jonathan Schwartz", score=0.75),
                                      Book("The Dosadi Experiment", "Frank Herbert", score=0.7),
                                      Book("Solaris", "Stanislaw Lem", score=0.6)])
    result = engine.recommend([0], k=10)
    assert titles(result) == ["Dune Road", "The Dosadi Experiment", "Solaris"]
    assert result.skipped["same_book"] == 3


def test_a_one_word_title_is_no_series(tmp_path):
    """Asked about Emma, the reader may get Persuasion: two one-word titles by Austen are two
    books, not one series (a one-word title has no series stem, `series_stem`)."""
    engine = build(tmp_path, [Book("Emma", "Jane Austen")], [Book("Persuasion", "Jane Austen", score=0.9),
                                                             Book("Mansfield Park", "Jane Austen", score=0.8),
                                                             Book("Solaris", "Stanislaw Lem", score=0.7)])
    result = engine.recommend([0], k=10)
    assert titles(result) == ["Persuasion", "Mansfield Park", "Solaris"]
    assert result.skipped["same_book"] == 0


# --- counts -----------------------------------------------------------------------------

def test_skipped_names_every_reason_and_counts_diversity(tmp_path):
    """Every reason is reported (0 when nothing was passed over); a third book by one author is a
    diversity skip, and nothing that was picked is counted."""
    wolfe = [Book(title, "Gene Wolfe", score=s) for title, s in
             (("Peace", 0.9), ("The Fifth Head of Cerberus", 0.8), ("There Are Doors", 0.7))]
    engine = build(tmp_path, [DUNE], [*wolfe, Book("Solaris", "Stanislaw Lem", score=0.6)])
    result = engine.recommend([0], k=10)
    assert set(result.skipped) == set(SKIP_REASONS)
    assert titles(result) == ["Peace", "The Fifth Head of Cerberus", "Solaris"]
    assert result.skipped == {**dict.fromkeys(SKIP_REASONS, 0), "diversity": 1}
    short = engine.recommend([0], k=1)  # the list is full before the others are looked at
    assert titles(short) == ["Peace"] and sum(short.skipped.values()) == 0


# --- genre profiles -----------------------------------------------------------------------

VONNEGUT = Book("Slaughterhouse-Five", "Kurt Vonnegut", "0385333846", genre="literary")


def test_a_cookbook_never_follows_a_novel_and_another_genre_needs_strong_evidence(tmp_path):
    """A cookbook and a business book that a few of the novel's readers liked score highest, yet the
    list holds novels; with strong, specific evidence (many co-readers who are much of its readership)
    a thriller, another genre, may come to a literary reader, and a cookbook still never does."""
    others = [Book("The Joy of Cooking", "Irma S. Rombauer", score=0.95, co_readers=3, likes=5, genre="cookbook"),
              Book("The Brand You 50", "Tom Peters", score=0.9, co_readers=3, likes=5, genre="business"),
              Book("Cat's Cradle", "Kurt Vonnegut", score=0.8, co_readers=2, genre="literary"),
              Book("Catch-22", "Joseph Heller", score=0.7, co_readers=2, genre="literary"),
              Book("The Sirens of Titan", "Kurt Vonnegut Jr.", score=0.6, co_readers=NEIGHBOUR_SUPPORT,
                   genre="scifi")]  # a neighbour on enough co-readers
    engine = build(tmp_path / "thin", [VONNEGUT], others)
    result = engine.recommend([0], k=10)
    assert titles(result) == ["Cat's Cradle", "Catch-22", "The Sirens of Titan"]
    assert result.skipped["kind"] == 2
    assert STRONG_SUPPORT <= 5 and STRONG_SHARE <= 1  # the fixture: its readers are all co-readers, 5 at most
    strong = [Book("The Joy of Cooking", "Irma S. Rombauer", score=0.95, co_readers=STRONG_SUPPORT, likes=STRONG_SUPPORT,
                   genre="cookbook"),
              Book("The Day of the Jackal", "Frederick Forsyth", score=0.9, co_readers=STRONG_SUPPORT,
                   likes=STRONG_SUPPORT, genre="thriller"), *others[2:4]]
    assert titles(build(tmp_path / "strong", [VONNEGUT], strong).recommend([0], k=10, rarity="any")) == \
        ["The Day of the Jackal", "Cat's Cradle", "Catch-22"]


def test_one_readers_word_is_enough_only_within_the_readers_genre(tmp_path):
    """Single-reader picks: a novel of the seed's own genre stays; a neighbouring genre needs
    NEIGHBOUR_SUPPORT co-readers who are NEIGHBOUR_SHARE of its readers (thin evidence fills no
    slot with another kind of book, and a classic every reader names is not *their* book)."""
    engine = build(tmp_path, [VONNEGUT], [
        Book("Mother Night", "Kurt Vonnegut", score=0.9, co_readers=1, genre="literary"),
        Book("Hyperion", "Dan Simmons", score=0.8, co_readers=1, genre="scifi"),
        Book("Foundation", "Isaac Asimov", score=0.75, co_readers=NEIGHBOUR_SUPPORT - 1, genre="scifi"),
        Book("Ringworld", "Larry Niven", score=0.7, co_readers=NEIGHBOUR_SUPPORT, genre="scifi")])
    assert NEIGHBOUR_SUPPORT <= 5 and NEIGHBOUR_SHARE <= NEIGHBOUR_SUPPORT / 5  # the fixture's 5 likes a book
    result = engine.recommend([0], k=10)
    assert titles(result) == ["Mother Night", "Ringworld"] and result.skipped["kind"] == 2


def test_a_neighbouring_genre_on_four_co_readers_is_thin_evidence(tmp_path):
    """A science-fiction novel for a reader of Vonnegut's literary fiction needs five co-readers: four
    are not enough, even when they are most of its readers (the blind reads' neighbouring-genre picks
    on three or four co-readers were mismatches two times in five)."""
    engine = build(tmp_path, [VONNEGUT], [
        Book("Foundation", "Isaac Asimov", score=0.9, co_readers=4, genre="scifi"),
        Book("Ringworld", "Larry Niven", score=0.8, co_readers=5, genre="scifi"),
        Book("Mother Night", "Kurt Vonnegut", score=0.7, co_readers=2, genre="literary")])
    result = engine.recommend([0], k=10, rarity="any")
    assert titles(result) == ["Ringworld", "Mother Night"] and result.skipped["kind"] == 1


def test_the_seeds_writer_vouches_for_their_books_of_a_neighbouring_genre(tmp_path):
    """Vonnegut's science fiction for a reader of his literary fiction rests on one co-reader, as a
    book of the reader's own genre does (the writer is evidence of what a book is: the blind reads
    scored picks by the seed's writer 1.51 of 2); another writer's science fiction on one co-reader
    is still thin evidence. The writer does not vouch across fiction and nonfiction: his memoir (a
    neighbouring genre) on one co-reader stays out, and his essays on politics (another genre) still
    need strong evidence."""
    engine = build(tmp_path, [VONNEGUT], [
        Book("The Sirens of Titan", "Kurt Vonnegut Jr.", score=0.9, co_readers=1, genre="scifi"),
        Book("Hyperion", "Dan Simmons", score=0.8, co_readers=1, genre="scifi"),
        Book("A Man Without a Country", "Kurt Vonnegut", score=0.75, co_readers=NEIGHBOUR_SUPPORT - 1,
             genre="society"),
        Book("Palm Sunday", "Kurt Vonnegut", score=0.72, co_readers=1, genre="memoir"),
        Book("Catch-22", "Joseph Heller", score=0.7, co_readers=1, genre="literary")])
    result = engine.recommend([0], k=10)
    assert titles(result) == ["The Sirens of Titan", "Catch-22"], result.skipped
    assert result.skipped["kind"] == 3, result.skipped


def test_picture_books_and_childrens_novels_for_a_grown_up_reader(tmp_path):
    """A picture book never fits a novel's reader; a children's novel of the same genre is another kind of
    book for a grown-up (it needs strong evidence); a picture book does fit a picture book's reader."""
    gruffalo = Book("The Gruffalo", "Julia Donaldson", genre="picture", audience="child")
    others = [Book("Where the Wild Things Are", "Maurice Sendak", score=0.9, co_readers=2, genre="picture", audience="child"),
              Book("Harry Potter and the Sorcerer's Stone", "J. K. Rowling", score=0.8, co_readers=STRONG_SUPPORT,
                   genre="fantasy", audience="child"),
              Book("The Name of the Wind", "Patrick Rothfuss", score=0.7, co_readers=2, genre="fantasy")]
    hobbit = Book("The Silmarillion", "J. R. R. Tolkien", genre="fantasy")
    assert titles(build(tmp_path / "a", [hobbit], others).recommend([0], k=10)) == \
        ["Harry Potter and the Sorcerer's Stone", "The Name of the Wind"]
    assert titles(build(tmp_path / "b", [gruffalo], others).recommend([0], k=10))[0] == "Where the Wild Things Are"


def test_the_seeds_own_universe_is_its_series_whoever_wrote_it(tmp_path):
    """House Atreides ("Dune: House Trilogy") and House Harkonnen ("Prelude to Dune", as goodbooks-10k
    names it) are Dune's own universe ("Dune Chronicles"); a book in a publisher's line that Dune's
    edition shares ("Ace Science Fiction") is not."""
    dune = Book("Dune", "Frank Herbert", "0441172660", series="Dune Chronicles", genre="scifi")
    engine = build(tmp_path, [dune], [Book("House Atreides", "Brian Herbert", score=0.9, co_readers=3,
                                           series="Dune: House Trilogy", genre="scifi"),
                                      Book("House Harkonnen", "Brian Herbert", score=0.88, co_readers=3,
                                           series="Prelude to Dune", genre="scifi"),
                                      Book("The Butlerian Jihad", "Brian Herbert", score=0.85, co_readers=3,
                                           series="Dune Series", genre="scifi"),
                                      Book("Ringworld", "Larry Niven", score=0.8, co_readers=3, genre="scifi",
                                           series="Ace Science Fiction")])
    result = engine.recommend([0], k=10)
    assert titles(result) == ["Ringworld"] and result.skipped["same_book"] == 3


def test_the_writers_books_in_one_volume_are_the_seeds_own_series(tmp_path):
    """*Three Plums in One* (*One for the Money* and the next two) is the Stephanie Plum series again
    for a reader of *Four to Score*, as *Sue Grafton: Three Complete Novels* is Kinsey Millhone's for
    a reader of *A Is for Alibi*; another writer's omnibus is a book like any other, and the writer's
    novel of no series stays."""
    evanovich = Book("Four to Score", "Janet Evanovich", series="A Stephanie Plum Novel", genre="mystery")
    grafton = Book("A Is for Alibi", "Sue Grafton", series="Kinsey Millhone", genre="mystery")
    plums = Book("Three Plums in One: One for the Money, Two for the Dough, Three to Get Deadly", "Janet Evanovich",
                 score=0.9, genre="mystery")
    grafton_three = Book("Sue Grafton: Three Complete Novels: 'D' Is for Deadbeat, 'E' Is for Evidence", "Sue Grafton",
                         score=0.85, genre="mystery")
    chan = Book("Charlie Chan: 5 Complete Novels", "Earl Derr Biggers", score=0.8, genre="mystery")
    metro = Book("Metro Girl", "Janet Evanovich", score=0.7, genre="mystery")
    engine = build(tmp_path, [evanovich, grafton], [plums, grafton_three, chan, metro])
    for seed, other in ((0, grafton_three), (1, plums)):  # the other writer's omnibus stays
        result = engine.recommend([seed], k=10)
        assert titles(result) == [b.title for b in (other, chan, metro)], seed
        assert result.skipped["same_book"] == 1, seed


def test_a_series_named_in_the_plural_is_one_series(tmp_path):
    """Anne Rice's *Pandora* ("New Tales of the Vampires") is in the universe of *Interview with the
    Vampire* ("Vampire Chronicles"), also where other writers' "Vampire Series" make "vampire" a word
    many series share (`Catalogue.lines`); her Mayfair witches are not."""
    interview = Book("Interview with the Vampire", "Anne Rice", series="Vampire Chronicles", genre="horror")
    others = [Book(f"Night {i}", f"Writer {name}", series="Vampire Series", genre="horror")
              for i, name in enumerate(("Adams", "Brown", "Clark", "Davis", "Evans", "Ford"))]
    engine = build(tmp_path, [interview, *others], [
        Book("Pandora", "Anne Rice", score=0.9, series="New Tales of the Vampires", genre="horror"),
        Book("The Witching Hour", "Anne Rice", score=0.8, series="Lives of the Mayfair Witches", genre="horror")])
    assert "vampire" in engine.rules.catalogue.lines  # the fixture's premise
    result = engine.recommend([0], k=10)
    assert titles(result) == ["The Witching Hour"] and result.skipped["same_book"] == 1


def test_a_writers_own_series_whose_key_a_line_shares_is_still_a_series(tmp_path):
    """*The Queen of the Damned* ("Vampire Chronicles", Anne Rice's alone) keeps *Pandora* ("New Tales
    of the Vampires") out, though six writers' "Vampire: The Masquerade Novels" make "vampire" a line's
    key; a publisher's line keeps out nothing, however its writer's books are noted."""
    queen = Book("The Queen of the Damned", "Anne Rice", series="Vampire Chronicles", genre="horror")
    masquerade = [Book(f"Clan {i}", f"Writer {name}", series="Vampire: The Masquerade Novels", genre="horror")
                  for i, name in enumerate(("Adams", "Brown", "Clark", "Davis", "Evans", "Ford"))]
    classics = [Book(f"Classic {i}", f"Author {name}", series="Penguin Classics", genre="literary")
                for i, name in enumerate(("Gale", "Hale", "Irving", "Jones", "Kent", "Lowe"))]
    emma = Book("Emma", "Jane Austen", series="Penguin Classics", genre="literary")
    engine = build(tmp_path, [queen, *masquerade, emma, *classics], [
        Book("Pandora", "Anne Rice", score=0.9, series="New Tales of the Vampires", genre="horror"),
        Book("The Witching Hour", "Anne Rice", score=0.8, series="Lives of the Mayfair Witches", genre="horror"),
        Book("Persuasion", "Jane Austen", score=0.7, series="Penguin Classics", genre="literary")])
    assert "vampire" in engine.rules.catalogue.lines  # the fixture's premise
    assert engine.rules.catalogue.is_line("Penguin Classics") and not engine.rules.catalogue.is_line("Vampire Chronicles")
    result = engine.recommend([0], k=10)
    assert "Pandora" not in titles(result) and "The Witching Hour" in titles(result)
    assert "Persuasion" in titles(engine.recommend([1 + len(masquerade)], k=10))


def test_the_writers_book_named_after_the_seeds_series_is_its_own_series(tmp_path):
    """*Scarpetta's Winter Table* (no series note) by the writer of *The Last Precinct* ("Kay Scarpetta")
    names the series in its title: the seed's own series. Her book of no series stays, and so does
    another writer's book with that word in its title."""
    precinct = Book("The Last Precinct", "Patricia Daniels Cornwell", series="Kay Scarpetta", genre="mystery")
    engine = build(tmp_path, [precinct], [
        Book("Scarpetta's Winter Table", "Patricia Cornwell", score=0.9, co_readers=3, genre="mystery"),
        Book("Hornet's Nest", "Patricia Cornwell", score=0.8, co_readers=3, genre="mystery"),
        Book("Scarpetta Unmasked", "Someone Else", score=0.7, co_readers=3, genre="mystery")])
    result = engine.recommend([0], k=10)
    assert titles(result) == ["Hornet's Nest", "Scarpetta Unmasked"] and result.skipped["same_book"] == 1


def test_an_edition_that_misspelled_the_seeds_title_is_the_seed(tmp_path):
    """*Siddartha* (an edition that spelled it so) is *Siddhartha* again; Hesse's *Steppenwolf*, and a
    book of another writer spelled alike, are picks."""
    siddhartha = Book("Siddhartha", "Hermann Hesse", genre="literary")
    engine = build(tmp_path, [siddhartha], [
        Book("Siddartha", "Hesse, Hermann", score=0.9, co_readers=3, genre="literary"),
        Book("Steppenwolf", "Hermann Hesse", score=0.8, co_readers=3, genre="literary"),
        Book("Siddartha", "Someone Else", score=0.7, co_readers=3, genre="literary")])
    result = engine.recommend([0], k=10)
    assert titles(result) == ["Steppenwolf", "Siddartha"]
    assert result.picks[1].work.author == "Someone Else" and result.skipped["same_book"] == 1


def test_the_seeds_title_with_its_number_in_words_is_the_seed(tmp_path):
    """*Nineteen Eighty-Four* is *1984* again (the catalogue keeps the two apart); *Animal Farm* is a pick."""
    engine = build(tmp_path, [Book("1984", "George Orwell", genre="literary")], [
        Book("Nineteen Eighty-Four", "George Orwell", score=0.9, co_readers=3, genre="literary"),
        Book("Animal Farm", "George Orwell", score=0.8, co_readers=3, genre="literary")])
    result = engine.recommend([0], k=10)
    assert titles(result) == ["Animal Farm"] and result.skipped["same_book"] == 1


def test_one_author_however_the_name_is_written(tmp_path):
    """Tom Peters and Thomas J. Peters are one author: at most two of his books in one list."""
    peters = [Book("The Brand You 50", "Tom Peters", score=0.9), Book("The Project 50", "Thomas J. Peters", score=0.85),
              Book("The Professional Service Firm50", "Thomas J. Peters", score=0.8),
              Book("Solaris", "Stanislaw Lem", score=0.7)]
    result = build(tmp_path, [DUNE], peters).recommend([0], k=10)
    assert titles(result) == ["The Brand You 50", "The Project 50", "Solaris"] and result.skipped["diversity"] == 1


INSOMNIA = Book("Insomnia", "Stephen King", genre="horror")


def horror(title: str, author: str, score: float) -> Book:
    """A horror novel three of Insomnia's readers loved."""
    return Book(title, author, score=score, co_readers=3, genre="horror")


def test_a_pen_name_is_its_author_for_the_two_books_an_author(tmp_path):
    """The Regulators by "Richard Bachman" is a third Stephen King book: passed over for diversity."""
    engine = build(tmp_path, [INSOMNIA], [
        horror("Needful Things", "Stephen King", 0.9),
        horror("Salem's Lot", "Stephen King", 0.88),
        horror("The Regulators", "Richard Bachman", 0.85),
        horror("The Vision", "Dean R. Koontz", 0.8)])
    result = engine.recommend([0], k=10)
    assert titles(result) == ["Needful Things", "Salem's Lot", "The Vision"] and result.skipped["diversity"] == 1


def test_the_seeds_own_series_by_its_series_note(tmp_path):
    """One author, one series note: R Is for Ricochet is Q Is for Quarry's own series (titles
    share no stem); another Grafton outside the series, or another author's book in a series of
    that name, are fine."""
    quarry = Book("Q Is for Quarry", "Sue Grafton", series="Kinsey Millhone Mysteries", genre="mystery")
    engine = build(tmp_path, [quarry], [Book("R Is for Ricochet", "Sue Grafton", score=0.9, co_readers=3,
                                             series="Kinsey Millhone Mysteries", genre="mystery"),
                                        Book("Keziah Dane", "Sue Grafton", score=0.8, co_readers=3, genre="mystery"),
                                        Book("One for the Money", "Janet Evanovich", score=0.7, co_readers=3,
                                             genre="mystery", series="Stephanie Plum Novels")])
    result = engine.recommend([0], k=10)
    assert titles(result) == ["Keziah Dane", "One for the Money"] and result.skipped["same_book"] == 1


def test_a_publishers_line_is_no_series(tmp_path):
    """Emma's edition is in "Penguin Classics", a line of many authors' books: Mansfield Park in the
    same line is another Austen novel to read, not Emma's own series (a shelf of two Austens lost
    every other Austen to it). A series of one author keeps its rule."""
    emma = Book("Emma", "Jane Austen", series="Penguin Classics", genre="literary")
    others = [Book("Mansfield Park", "Jane Austen", score=0.9, co_readers=3, series="Penguin Classics", genre="literary")]
    others += [Book(f"Classic {i}", f"Writer{i} Surname{i}", score=0.5 - i / 100, co_readers=3, series="Penguin Classics",
                    genre="literary") for i in range(LINE_AUTHORS)]
    result = build(tmp_path / "line", [emma], others).recommend([0], k=3)
    assert titles(result) == ["Mansfield Park", "Classic 0", "Classic 1"] and result.skipped["same_book"] == 0
    few = build(tmp_path / "few", [emma], others[:LINE_AUTHORS - 1]).recommend([0], k=3)
    assert "Mansfield Park" not in titles(few) and few.skipped["same_book"] == 1


def test_one_authors_series_named_two_ways_is_one_series(tmp_path):
    """"Hitchhiker's Trilogy" on one book's editions and "Hitchhiker's Guide to the Galaxy" on the
    seed's are one series of one author; the same words under another author's name are not."""
    guide = Book("The Hitchhiker's Guide to the Galaxy", "Douglas Adams", series="Hitchhiker's Guide to the Galaxy",
                 genre="scifi")
    engine = build(tmp_path, [guide], [Book("Restaurnt End Univ", "Douglas Adams", score=0.9, co_readers=4,
                                            series="Hitchhiker's Trilogy", genre="scifi"),
                                       Book("Dirk Gently's Holistic Detective Agency", "Douglas Adams", score=0.8,
                                            co_readers=4, genre="scifi"),
                                       Book("A Hitchhiker's Trilogy", "Someone Else", score=0.7, co_readers=4,
                                            series="Hitchhiker's Trilogy", genre="scifi")])
    result = engine.recommend([0], k=10)
    assert titles(result) == ["Dirk Gently's Holistic Detective Agency", "A Hitchhiker's Trilogy"]
    assert result.skipped["same_book"] == 1


def test_a_companion_or_a_same_author_title_word_is_the_seeds_own_series(tmp_path):
    """A book whose title holds the seed's (a companion to it), and one by the seed's author that shares a
    distinctive title word, are the seed's own; a shared common word is not enough."""
    pants = Book("The Sisterhood of the Traveling Pants", "Ann Brashares", genre="literary", audience="ya")
    engine = build(tmp_path, [pants], [
        Book("Second Summer of the Sisterhood", "Ann Brashares", score=0.9, co_readers=3, genre="literary", audience="ya"),
        Book("The Sisterhood of the Traveling Pants Journal", "Delacorte", score=0.85, co_readers=3, genre="literary",
             audience="ya"),
        Book("The Last Summer of You and Me", "Ann Brashares", score=0.8, co_readers=3, genre="literary", audience="ya"),
        Book("Speak", "Laurie Halse Anderson", score=0.7, co_readers=3, genre="literary", audience="ya")])
    result = engine.recommend([0], k=10)
    assert titles(result) == ["The Last Summer of You and Me", "Speak"] and result.skipped["same_book"] == 2


def test_a_book_about_the_seeds_author_is_a_companion(tmp_path):
    """The Stephen King Universe (by Stan Wiater) and Stephen King's America are books about the
    seed's author, not picks for its reader; a King Arthur novel, or the author's own book with his
    name in its title, are not companions."""
    engine = build(tmp_path, [INSOMNIA], [
        horror("The Stephen King Universe", "Stan Wiater", 0.9),
        horror("Stephen King's America", "Jonathan P. Davis", 0.88),
        horror("The Once and Future King", "T. H. White", 0.85),
        horror("Stephen King's Danse Macabre", "Stephen King", 0.8)])
    result = engine.recommend([0], k=10)
    assert titles(result) == ["The Once and Future King", "Stephen King's Danse Macabre"]
    assert result.skipped["same_book"] == 2


def test_a_later_volume_of_a_series_is_not_handed_to_a_reader_new_to_it(tmp_path):
    """The Path of Daggers is the Wheel of Time's eighth: a fantasy reader gets The Eye of the World."""
    seed = Book("The Name of the Wind", "Patrick Rothfuss", genre="fantasy")
    engine = build(tmp_path, [seed], [
        Book("The Path of Daggers", "Robert Jordan", score=0.9, co_readers=3, genre="fantasy", series="The Wheel of Time #8"),
        Book("The Eye of the World", "Robert Jordan", score=0.8, co_readers=3, genre="fantasy", series="The Wheel of Time #1"),
        Book("Tigana", "Guy Gavriel Kay", score=0.7, co_readers=3, genre="fantasy")])
    result = engine.recommend([0], k=10)
    assert titles(result) == ["The Eye of the World", "Tigana"] and result.skipped["later_volume"] == 1


def test_one_book_of_a_series_its_notes_name_whatever_its_titles(tmp_path):
    """*Dealing with Dragons* and *Searching for Dragons* share no title stem but one series note
    ("Enchanted Forest Chronicles"): one of them per list; a publisher's line is no series."""
    classics = [Book(f"Classic {i}", f"Author {name}", series="Penguin Classics", genre="fantasy")
                for i, name in enumerate(("Gale", "Hale", "Irving", "Jones", "Kent", "Lowe"))]
    engine = build(tmp_path, [Book("The Hobbit", "J. R. R. Tolkien", genre="fantasy"), *classics], [
        Book("Dealing with Dragons", "Patricia C. Wrede", score=0.9, series="Enchanted Forest Chronicles", genre="fantasy"),
        Book("Searching for Dragons", "Patricia C. Wrede", score=0.8, series="Enchanted Forest Chronicles", genre="fantasy"),
        Book("Persuasion", "Jane Austen", score=0.7, series="Penguin Classics", genre="fantasy"),
        Book("Emma", "Jane Austen", score=0.6, series="Penguin Classics", genre="fantasy")])
    result = engine.recommend([0], k=10)
    assert titles(result) == ["Dealing with Dragons", "Persuasion", "Emma"]
    assert result.skipped["diversity"] == 1
