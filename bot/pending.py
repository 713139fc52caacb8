"""A reader's pending "which one did you mean?" question, answered by a number.

One question per reader, kept in the shelf store (so it outlives a restart); it ends when
answered, when the reader sends anything else, or after `CHOICE_TTL` seconds.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass

from .actions import Action

CHOICE_TTL = 600  # seconds a numbered question stays answerable


@dataclass(frozen=True)
class Question:
    """What answering does: `action` on the work `keys[n - 1]`."""

    action: Action
    keys: tuple[str, ...]


class Questions:
    """Pending questions in `shelves` (its `set_pending` / `pending`)."""

    def __init__(self, shelves, ttl: float = CHOICE_TTL, clock=time.time):
        self.shelves, self.ttl, self.clock = shelves, ttl, clock

    def ask(self, reader: str, action: Action, keys: list[str]) -> None:
        """Keep the reader's question (replacing any earlier one)."""
        self.shelves.set_pending(reader, json.dumps({"action": action.encode(), "keys": list(keys)}))

    def end(self, reader: str) -> None:
        """The reader moved on: their question can no longer be answered."""
        self.shelves.set_pending(reader, None)

    def take(self, reader: str) -> Question | None:
        """The reader's open question, or None (none, expired, or unreadable); it stays open."""
        pending = self.shelves.pending(reader)
        if pending is None:
            return None
        raw, asked_at = pending
        question = json.loads(raw) if self.clock() - asked_at <= self.ttl else None
        action = Action.decode(question["action"]) if question else None
        if action is None:
            self.end(reader)
            return None
        return Question(action, tuple(question["keys"]))
