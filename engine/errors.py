"""Typed errors raised by the engine; adapters turn them into friendly replies."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

# Shapes of bot tokens and other secrets: Telegram's "123456:AA...", Discord's three dotted
# parts, and any long opaque run with upper and lower case and digits (a webhook secret).
_TOKEN = re.compile(r"\d{5,}:[\w-]{20,}|[\w-]{18,}\.[\w-]{4,}\.[\w-]{18,}|[A-Za-z0-9_-]{32,}")
HIDDEN = "[a token-like name, not shown]"


def shown_path(path: str | Path) -> str:
    """`path` as an error may show it: any part shaped like a token is hidden.

    Paths come from settings (RAREREADS_MODEL, RAREREADS_MODELS_DIR), and a token pasted
    into the wrong one would otherwise be printed in full in "no model folder in ..."
    errors, which end up in terminals and logs others read.
    """
    def hide(match: re.Match) -> str:
        text = match.group(0)
        opaque = not (":" in text or "." in text)
        if opaque and not (re.search(r"[a-z]", text) and re.search(r"[A-Z]", text) and re.search(r"\d", text)):
            return text  # a long plain name (a folder's timestamp-and-model name), not a secret
        return HIDDEN
    return _TOKEN.sub(hide, str(path))


class RarereadsError(Exception):
    """Base class of every error the engine raises on purpose."""


class DataFormatError(RarereadsError):
    """A raw or compact data file could not be read."""


class ModelFolderError(RarereadsError):
    """A model folder is missing, incomplete, or does not match its manifest."""


class GateRecordUnreadable(ModelFolderError):
    """The retrain gate's record of verdicts cannot be read: nothing new may be accepted."""


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
