"""The service's answers: one small dataclass per kind.

Every reply has its whole answer as plain `text` (the terminal and Telegram's fallback);
each kind adds what an adapter needs to build a richer message (embeds, keyboards).
Adapters match on the type (`match reply: case Picks(): ...`); `kind` names the type in
logs and tests.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from engine.imports import ImportReport
from engine.results import Recommendation, RecommendationList, Work
from engine.shelf import ShelfEntry

from .actions import Action


@dataclass
class Reply:
    """An answer; `text` is all of it as plain text."""

    text: str
    kind: ClassVar[str] = "info"


@dataclass
class Info(Reply):
    """Something done or said: a shelf change, a hint, nothing to recommend."""


@dataclass
class Error(Reply):
    """Input the bot could not use, said kindly (and what to do instead)."""

    kind: ClassVar[str] = "error"


@dataclass
class Help(Reply):
    """What the bot understands."""

    kind: ClassVar[str] = "help"


@dataclass
class Picks(Reply):
    """One page of recommendations.

    Attributes:
        recommendations: The engine's answer (this page's picks).
        page: This page, from 0.
        offset: How many picks earlier pages held (pick i is number offset + i).
        more: What "More" does (the next page), or None when there is none.
        note: The lines under the list (tips, books not used, the "also:" line); they end `text` too.
    """

    recommendations: RecommendationList = None
    page: int = 0
    offset: int = 0
    more: Action | None = None
    note: str = ""
    kind: ClassVar[str] = "recommendations"


@dataclass
class Choices(Reply):
    """A numbered question: number n (or its button) runs `action` on `choices[n - 1]`.

    Attributes:
        choices: The works to pick from, the most liked first.
        action: What picking one does (the candidate's key is added per button).
    """

    choices: list[Work] = field(default_factory=list)
    action: Action = None
    kind: ClassVar[str] = "choices"


@dataclass
class DidYouMean(Choices):
    """A title not found, with the closest works to pick from instead."""

    kind: ClassVar[str] = "error"


@dataclass
class Book(Reply):
    """One book, and rare books its readers loved.

    Attributes:
        work: The book.
        neighbours: Rare books its readers loved.
        note: The line under the book (the "also:" line), also in `text`.
    """

    work: Work = None
    neighbours: list[Recommendation] = field(default_factory=list)
    note: str = ""
    kind: ClassVar[str] = "book"


@dataclass
class ShelfPage(Reply):
    """One page of a shelf.

    Attributes:
        entries: This page's books.
        page: This page, from 0.
        pages: How many pages there are (0 for an empty shelf).
        shelf: Which shelf: "read" or "want".
    """

    entries: list[ShelfEntry] = field(default_factory=list)
    page: int = 0
    pages: int = 0
    shelf: str = "read"
    kind: ClassVar[str] = "shelf"


@dataclass
class Confirm(Reply):
    """A question before something that cannot be undone; `action` is what yes does."""

    action: Action = None
    kind: ClassVar[str] = "confirm"


@dataclass
class Imported(Reply):
    """A library export imported; `report` says how each row went."""

    report: ImportReport = None


KINDS = tuple(dict.fromkeys(c.kind for c in (Picks, Choices, ShelfPage, Book, Info, Error, Confirm, Help)))
