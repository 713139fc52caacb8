"""What each book is: its genre profile, and how well one book's profile fits another's.

Book-Crossing has no genres, so the project owns a genre dataset (docs/PROFILES.md): labels
for the ~11,000 works that matter most, written by the team under one rule, carried to
every other work by its title, author, publisher and readers (`train.profiles`), and
measured on labels kept out of fitting. A model folder stores each work's profile as
`profile.npy` (see `encode`): its three likeliest genres with their probabilities and its
audience. The engine reads it to keep a novel's readers away from cookbooks, business
books and picture books (`fit`), unless the evidence for such a pick is strong.

Numpy only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Genre:
    code: str
    group: str  # "fiction", "form", "children", "nonfiction", "practical"
    description: str


GENRES: tuple[Genre, ...] = (
    Genre("literary", "fiction", "literary and general fiction, classics"),
    Genre("womens", "fiction", "women's fiction, chick lit, family sagas"),
    Genre("romance", "fiction", "romance"),
    Genre("mystery", "fiction", "mystery, detective and crime fiction"),
    Genre("thriller", "fiction", "thrillers and suspense"),
    Genre("scifi", "fiction", "science fiction"),
    Genre("fantasy", "fiction", "fantasy"),
    Genre("horror", "fiction", "horror and the supernatural"),
    Genre("historical", "fiction", "historical fiction"),
    Genre("christian", "fiction", "Christian and inspirational fiction"),
    Genre("western", "fiction", "westerns"),
    Genre("comics", "form", "graphic novels, comics, cartoon collections"),
    Genre("poetry", "form", "poetry and plays"),
    Genre("picture", "children", "picture books and early readers"),
    Genre("memoir", "nonfiction", "memoir, biography, travel writing"),
    Genre("society", "nonfiction", "history, politics, current affairs, true crime"),
    Genre("science", "nonfiction", "popular science, nature, psychology"),
    Genre("humor", "nonfiction", "humour books (not novels)"),
    Genre("religion", "nonfiction", "religion, spirituality, philosophy"),
    Genre("selfhelp", "practical", "self-help, relationships, health"),
    Genre("business", "practical", "business, careers, finance"),
    Genre("cookbook", "practical", "cookbooks, food and drink"),
    Genre("travelguide", "practical", "travel guides"),
    Genre("reference", "practical", "reference, study guides, textbooks, manuals"),
    Genre("hobby", "practical", "crafts, gardening, pets, sports, games, art"),
)
CODES: tuple[str, ...] = tuple(g.code for g in GENRES)
INDEX = {code: i for i, code in enumerate(CODES)}
N_GENRES = len(GENRES)
AUDIENCES: tuple[str, ...] = ("adult", "ya", "child")
ADULT, YA, CHILD = range(len(AUDIENCES))
PICTURE = INDEX["picture"]

# Neighbouring genres: a reader of one is often glad of the other (symmetric; a genre fits itself).
NEIGHBOURS: dict[str, tuple[str, ...]] = {
    "literary": ("womens", "historical", "poetry", "memoir", "humor", "mystery", "scifi", "fantasy"),
    "womens": ("literary", "romance", "historical", "christian", "memoir"),
    "romance": ("womens", "historical", "christian"),
    "mystery": ("thriller", "historical", "horror", "literary"),
    "thriller": ("mystery", "horror", "scifi"),
    "scifi": ("fantasy", "horror", "thriller", "literary"),
    "fantasy": ("scifi", "horror", "historical", "literary"),
    "horror": ("fantasy", "scifi", "thriller", "mystery"),
    "historical": ("literary", "womens", "romance", "mystery", "society", "fantasy", "western"),
    "christian": ("womens", "romance", "religion"),
    "western": ("historical",),
    "comics": ("humor",),
    "poetry": ("literary",),
    "picture": (),
    "memoir": ("literary", "womens", "society", "humor", "science", "religion"),
    "society": ("memoir", "science", "historical", "business"),
    "science": ("society", "memoir"),
    "humor": ("comics", "memoir", "literary"),
    "religion": ("christian", "selfhelp", "memoir"),
    "selfhelp": ("religion", "business"),
    "business": ("selfhelp", "society"),
    "cookbook": ("hobby",),
    "travelguide": ("hobby",),
    "reference": (),
    "hobby": ("cookbook", "travelguide"),
}
NEIGHBOUR_FIT = 0.5  # how well a neighbouring genre fits, against 1 for the same genre
# A genre with this share of the reader's mix is one of the reader's own: a label's second genre (0.3,
# 1984's science fiction; stored in 255ths, 0.298). Chosen on the new-readers validation split, served
# tail / pop recall over EASE: 1.184 / 1.218 without, 1.146 / 1.181 at 0.25, 1.187 / 1.227 at 0.29.
OWN_SHARE = 0.29
CHILD_FOR_ADULT = 0.4  # a children's or teen book for a grown-up's reading fits this much (another kind of book)
ADULT_FOR_CHILD = 0.6  # a book for adults for a reader of children's books fits this much (a neighbour at best)
PRACTICAL = frozenset(g.code for g in GENRES if g.group in ("practical", "children"))  # books to use, or to read to a child
STORIES = frozenset(g.code for g in GENRES if g.group == "fiction")  # novels and stories
_STORY_INDEX = np.array(sorted(INDEX[g] for g in STORIES))


def mostly_stories(mix: np.ndarray | None) -> bool:
    """Whether a genre mix (`Profiles.of`) is mostly novels and stories, as `Profiles.story` reads a work."""
    return mix is not None and 2 * float(mix[_STORY_INDEX].sum()) > float(mix.sum())


def _reach(mixes: np.ndarray) -> np.ndarray:
    """[b, N_GENRES]: how well a work of each genre fits readers of genre mixes [b, N_GENRES] (0..1).

    The expected affinity (`AFFINITY`) of a genre with a random genre of the reader's books,
    scaled by the best genre's so that a reader with one genre gets 1 for it; each of the
    reader's own genres (`OWN_SHARE` of the mix or more) fits 1, so a work of the reader's own
    mix does too (*A Clockwork Orange* for 1984, both literary and science fiction), not less
    than a work of the major genre alone."""
    reach = mixes @ AFFINITY  # AFFINITY is symmetric
    best = reach.max(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        reach = np.where(best > 0, reach / best, 0.0)
    own = (mixes > 0) & (mixes >= OWN_SHARE * mixes.sum(axis=1, keepdims=True))
    return np.where(own, 1.0, np.clip(reach, 0.0, 1.0))


def affinity() -> np.ndarray:
    """[N_GENRES, N_GENRES] genre fit: 1 on the diagonal, `NEIGHBOUR_FIT` for neighbours, else 0."""
    table = np.eye(N_GENRES, dtype=np.float32)
    for code, near in NEIGHBOURS.items():
        for other in near:
            table[INDEX[code], INDEX[other]] = table[INDEX[other], INDEX[code]] = NEIGHBOUR_FIT
    return table


AFFINITY = affinity()

# A profile in a model folder: uint8 [n, 8] = genre, p, genre2, p2, genre3, p3 (p in 1/255ths;
# genre 255 = none), audience, audience p. All 255 (`UNKNOWN`) where nothing is known.
WIDTH = 8
NONE = 255


def encode(probabilities: np.ndarray, audience: np.ndarray) -> np.ndarray:
    """uint8 [n, WIDTH] from genre probabilities [n, N_GENRES] and audience probabilities [n, 3]."""
    probabilities = np.asarray(probabilities, np.float64)
    audience = np.asarray(audience, np.float64)
    n = len(probabilities)
    out = np.full((n, WIDTH), NONE, np.uint8)
    if not n:
        return out
    top = np.argsort(-probabilities, axis=1, kind="stable")[:, :3]
    p = np.take_along_axis(probabilities, top, axis=1)
    known = probabilities.sum(axis=1) > 0
    for k in range(3):
        keep = known & (p[:, k] > 0)
        out[keep, 2 * k] = top[keep, k]
        out[keep, 2 * k + 1] = np.clip(np.rint(255 * p[keep, k]), 0, 255)
    a_known = audience.sum(axis=1) > 0
    out[a_known, 6] = np.argmax(audience[a_known], axis=1)
    out[a_known, 7] = np.clip(np.rint(255 * audience[a_known].max(axis=1)), 0, 255)
    return out


def decode(profile: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(genre probabilities float32 [n, N_GENRES] (rows of zeros where unknown), audience int [n] (-1 unknown))."""
    profile = np.asarray(profile, np.uint8)
    n = len(profile)
    probabilities = np.zeros((n, N_GENRES), np.float32)
    for k in range(3):
        genre, p = profile[:, 2 * k], profile[:, 2 * k + 1]
        keep = genre != NONE
        probabilities[np.flatnonzero(keep), genre[keep]] += p[keep] / 255.0
    total = probabilities.sum(axis=1, keepdims=True)
    probabilities = np.divide(probabilities, total, out=probabilities, where=total > 0)
    audience = np.where(profile[:, 6] == NONE, -1, profile[:, 6].astype(np.int64))
    return probabilities, audience


class Profiles:
    """The profiles of a catalogue, as the engine reads them: the stored table (8 bytes a work,
    also at millions of works), decoded for the works a request looks at.

    Args:
        table: uint8 [n, WIDTH] (`encode`).
    """

    def __init__(self, table: np.ndarray):
        self.table = np.asarray(table, np.uint8)
        # `practical`, read for many candidates a request: one flag a work, from the stored
        # weights (a work is practical when its practical genres weigh more than half).
        weights = self.table[:, 1:6:2].astype(np.int64)
        genres = self.table[:, 0:6:2]
        known = genres != NONE
        useful = known & np.isin(genres, [INDEX[g] for g in PRACTICAL])
        self._practical = 2 * (weights * useful).sum(axis=1) > (weights * known).sum(axis=1)
        told = known & np.isin(genres, _STORY_INDEX)
        self._story = 2 * (weights * told).sum(axis=1) > (weights * known).sum(axis=1)

    @classmethod
    def from_array(cls, profile: np.ndarray) -> "Profiles":
        return cls(profile)

    def genres(self, ids) -> np.ndarray:
        """float32 [len(ids), N_GENRES] genre distributions (rows of zeros where unknown)."""
        return decode(self.table[np.asarray(ids, np.int64)])[0]

    def audience(self, ids) -> np.ndarray:
        """int64 audience of each work (-1 unknown)."""
        return decode(self.table[np.asarray(ids, np.int64)])[1]

    def of(self, ids) -> tuple[np.ndarray, bool]:
        """The combined genre distribution of works `ids` (a seed or a shelf), and whether any is a
        book for adults (a grown-up reader)."""
        ids = np.asarray(ids, np.int64)
        genres, audience = decode(self.table[ids])
        known = genres.sum(axis=1) > 0
        mix = genres[known].mean(axis=0) if known.any() else np.zeros(N_GENRES, np.float32)
        adult = bool(np.any(audience == ADULT)) or not known.any()
        return mix, adult

    def practical(self, ids) -> np.ndarray:
        """Whether each work is mostly a book to use (`PRACTICAL`: cookbooks, guides, reference, picture books)."""
        return self._practical[np.asarray(ids, np.int64)]

    def story(self, ids) -> np.ndarray:
        """Whether each work is mostly a novel or story (`STORIES`: the fiction genres)."""
        return self._story[np.asarray(ids, np.int64)]

    def fit(self, mix: np.ndarray, adult_reader: bool, candidates) -> np.ndarray:
        """How well each candidate fits a reader whose books have genre mix `mix` (0..1; NaN unknown).

        The expected affinity of a random genre of the reader's books and one of the
        candidate's (`AFFINITY`), scaled so that each of the reader's own genres (`OWN_SHARE` of
        the mix or more: both of 1984's, literary and science fiction) fits 1, and so does a work
        of the reader's own mix (`reach`); a children's or teen book for a grown-up reader counts
        `CHILD_FOR_ADULT` as much (another kind of book), a grown-up's book for a reader of
        children's books `ADULT_FOR_CHILD` as much, and a picture book nothing, unless the
        reader's books are picture books too.
        """
        candidates = np.asarray(candidates, np.int64)
        if not mix.any():
            return np.full(len(candidates), np.nan)
        genres, audience = decode(self.table[candidates])
        reach = _reach(mix[None, :])[0]
        fit = genres @ reach
        if adult_reader:
            fit = np.where(np.isin(audience, (YA, CHILD)), fit * CHILD_FOR_ADULT, fit)
        else:
            fit = np.where(audience == ADULT, fit * ADULT_FOR_CHILD, fit)
        fit = np.where(genres[:, PICTURE] > 0.5, fit * mix[PICTURE], fit)
        return np.where(genres.sum(axis=1) > 0, fit, np.nan)

    def fit_rows(self, mixes: np.ndarray, adults: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """`fit` for many readers at once: mixes [b, G], adults [b], candidates [b, c] -> [b, c]."""
        b, c = candidates.shape
        genres, audience = decode(self.table[candidates.ravel()])
        genres, audience = genres.reshape(b, c, N_GENRES), audience.reshape(b, c)
        reach = _reach(mixes)
        fit = np.einsum("bcg,bg->bc", genres, reach)
        fit = np.where(adults[:, None] & np.isin(audience, (YA, CHILD)), fit * CHILD_FOR_ADULT, fit)
        fit = np.where(~adults[:, None] & (audience == ADULT), fit * ADULT_FOR_CHILD, fit)
        fit = np.where(genres[:, :, PICTURE] > 0.5, fit * mixes[:, PICTURE][:, None], fit)
        known = (genres.sum(axis=2) > 0) & (mixes.sum(axis=1) > 0)[:, None]
        return np.where(known, fit, np.nan)

    def mixes(self, shelves) -> tuple[np.ndarray, np.ndarray]:
        """Genre mixes [b, G] and whether each reader is a grown-up [b], for shelves (CSR, readers x works)."""
        genres, audience = decode(self.table)
        known = (genres.sum(axis=1) > 0).astype(np.float32)
        counts = np.asarray(shelves @ known).ravel()
        mixes = np.asarray(shelves @ genres) / np.maximum(counts, 1)[:, None]
        adult_known = ((audience == ADULT) & (known > 0)).astype(np.float32)
        adults = (np.asarray(shelves @ adult_known).ravel() > 0) | (counts == 0)
        return mixes.astype(np.float32), adults
