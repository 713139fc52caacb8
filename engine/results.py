"""Plain result dataclasses returned by the engine; adapters format them."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Work:
    """A work (all editions of one book) as the catalogue knows it."""

    id: int
    title: str
    author: str
    year: int  # 0 = unknown
    likes: int  # readers in the training data who liked it
    cover_url: str = ""
    isbns: tuple[str, ...] = ()
    key: str = ""  # engine.normalize.work_key: identity that survives retrains

    @property
    def label(self) -> str:
        """"Title — Author (Year)" for lists of choices."""
        year = f" ({self.year})" if self.year else ""
        return f"{self.title} — {self.author}{year}" if self.author else f"{self.title}{year}"


@dataclass(frozen=True)
class TitleMatch:
    """One candidate for a typed title, best first; score 0..100."""

    work: Work
    score: float


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
