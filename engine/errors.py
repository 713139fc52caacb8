"""Typed errors raised by the engine; adapters turn them into friendly replies."""
from __future__ import annotations

from dataclasses import dataclass, field


class RarereadsError(Exception):
    """Base class of every error the engine raises on purpose."""


class DataFormatError(RarereadsError):
    """A raw or compact data file could not be read."""


class ModelFolderError(RarereadsError):
    """A model folder is missing, incomplete, or does not match its manifest."""


class ShelfStoreError(RarereadsError):
    """The shelf database cannot be opened or used (corrupt, unreadable, from a newer version)."""


class InvalidInput(RarereadsError):
    """The user's input cannot be used (empty, too long, no letters...)."""


@dataclass
class _TitleProblem(RarereadsError):
    """A typed title that did not resolve to one work; `candidates` are works to offer instead."""

    query: str
    candidates: list = field(default_factory=list)


class BookNotFound(_TitleProblem):
    """No work matched the query well enough; `candidates` holds "did you mean" options."""

    def __str__(self) -> str:
        return f"no book matches {self.query!r}"


class AmbiguousTitle(_TitleProblem):
    """Several different works match the query about equally well."""

    def __str__(self) -> str:
        return f"{self.query!r} matches {len(self.candidates)} books"
