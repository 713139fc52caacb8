"""Plain result dataclasses returned by the engine; adapters format them."""
from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from .normalize import valid_isbn

OPEN_LIBRARY = "https://openlibrary.org"


@dataclass(frozen=True)
class Work:
    """A work (all editions of one book) as the catalogue knows it."""

    id: int
    title: str
    author: str
    year: int  # 0 = unknown
    likes: int  # readers in the training data who liked it
    cover_url: str = ""
    isbns: tuple[str, ...] = ()  # every edition's, the most rated edition's first
    key: str = ""  # engine.normalize.work_key: identity that survives retrains
    publisher: str = ""  # the most common publisher of its editions

    @property
    def label(self) -> str:
        """"Title — Author (Year)" for lists of choices."""
        year = f" ({self.year})" if self.year else ""
        return f"{self.title} — {self.author}{year}" if self.author else f"{self.title}{year}"

    @property
    def url(self) -> str:
        """An open page for the book: Open Library's for its first valid ISBN, else an Open Library search."""
        isbn = next((i for i in self.isbns if valid_isbn(i)), "")
        if isbn:
            return f"{OPEN_LIBRARY}/isbn/{isbn}"
        query = {"title": self.title, "author": self.author} if self.author else {"title": self.title}
        return f"{OPEN_LIBRARY}/search?{urlencode(query)}"


@dataclass(frozen=True)
class TitleMatch:
    """One candidate for a typed title, best first; score 0..100."""

    work: Work
    score: float


@dataclass(frozen=True)
class TitleLookup:
    """The work a typed title names, and the works it could also have named.

    `also` holds works that match the title as well but that the evidence set aside (one
    work holds most of the likes, or the others are study guides of it), most liked
    first; an answer names them in one line, `also_line`.
    """

    work: Work
    also: tuple[Work, ...] = ()

    @property
    def also_line(self) -> str:
        """"also: Of Mice and Men — John Milne (1995); …", or "" when there are none."""
        return "also: " + "; ".join(w.label for w in self.also) if self.also else ""


@dataclass(frozen=True)
class Recommendation:
    """One pick with its one-line reason."""

    work: Work
    score: float  # the rarity key the list is sorted by (comparable within one list only)
    reason: str
    support: int = -1  # co-readers: training readers who liked it and a query book (-1: unknown)


@dataclass
class RecommendationList:
    """Answer to a recommendation request."""

    query: list[Work]  # the works the request was about
    picks: list[Recommendation] = field(default_factory=list)
    rarity: str = "rare"
    model_version: str = ""
    unused: list[Work] = field(default_factory=list)  # query works the model could not use (no vector yet)
    # Candidates passed over while the list filled, by rule (`engine.recommender.SKIP_REASONS`).
    skipped: dict[str, int] = field(default_factory=dict)
