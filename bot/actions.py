"""What a button (or a pending numbered question) does: the `Do` enum, `Action`, one encoder, one decoder.

An `Action` is stored as JSON, behind a button's short token (`ActionStore`) or as the
answer to a "which one did you mean?" question (`bot.pending`). `Action.encode` and
`Action.decode` are the only writer and reader of that JSON; the keys are those earlier
versions wrote, so buttons sent before an upgrade still work.
"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from dataclasses import dataclass
from enum import Enum


class Do(str, Enum):
    """What pressing does."""

    READ = "read"  # "Read it" under a pick: onto the reader's shelf
    ADD = "add"  # a candidate of /shelf add: onto the shelf with the rating asked for
    DISMISS = "dismiss"  # "Not interested": never recommended to this reader again
    RECOMMEND = "recommend"  # "More like this", a candidate of /recommend, "More" under picks for a title
    SHELF_RECS = "shelf_recs"  # "More" under picks for a shelf (or a group's shared shelves)
    BOOK = "book"  # a candidate of /book
    REMOVE = "remove"  # a candidate of /shelf remove
    PAGE = "page"  # another page of a shelf
    CLEAR = "clear"  # yes to /shelf clear
    FORGET = "forget"  # yes to /forget
    CANCEL = "cancel"  # no to a question


# Action field -> its key in the stored JSON, where they differ (earlier versions wrote "k").
_KEYS = {"count": "k"}


@dataclass(frozen=True)
class Action:
    """One button's action.

    Attributes:
        do: What it does.
        key: The work it acts on (`Work.key`), or the shelf entry's key for REMOVE.
        rating: ADD: the stars asked for.
        count: RECOMMEND and SHELF_RECS: picks per page.
        rarity: RECOMMEND and SHELF_RECS: the rarity asked for.
        page: RECOMMEND and SHELF_RECS: the page of picks; PAGE: the shelf page (from 0).
        lang: RECOMMEND and SHELF_RECS: the language asked for.
        scope: SHELF_RECS: the group whose shared shelves are meant.
        reader: The only reader who may press it (questions about their own data).
        shelf: PAGE: which shelf ("read" or "want").
    """

    do: Do
    key: str = ""
    rating: int | None = None
    count: int | None = None
    rarity: str | None = None
    page: int | None = None
    lang: str | None = None
    scope: str | None = None
    reader: str | None = None
    shelf: str | None = None

    def on(self, key: str) -> "Action":
        """This action for the work `key` (a question's action, for the candidate chosen)."""
        return dataclasses.replace(self, key=key)

    def encode(self) -> str:
        """The JSON kept for this action (fields left at their defaults are left out)."""
        payload = {"do": self.do.value}
        for f in dataclasses.fields(self)[1:]:
            value = getattr(self, f.name)
            if value not in (None, ""):
                payload[_KEYS.get(f.name, f.name)] = value
        return json.dumps(payload, sort_keys=True, ensure_ascii=False)

    @classmethod
    def decode(cls, raw: str | dict | None) -> "Action | None":
        """The action `encode` wrote (or an earlier version did, also as a dict); None for anything else."""
        try:
            payload = json.loads(raw) if isinstance(raw, str) else raw
            do = Do(payload.get("do"))
        except (TypeError, ValueError, AttributeError):
            return None
        values = {f.name: payload.get(_KEYS.get(f.name, f.name)) for f in dataclasses.fields(cls)[1:]}
        values["key"] = str(values["key"] or "")
        return cls(do, **values)

    @property
    def token(self) -> str:
        """12 URL-safe characters naming this action: the same action always gets the same token."""
        return base64.urlsafe_b64encode(hashlib.sha256(self.encode().encode()).digest()[:9]).decode()


class ActionStore:
    """Actions behind short tokens (Telegram allows 64 bytes of callback data).

    They are kept in the shelf store, so buttons keep working after a restart; the store
    forgets them after `engine.shelf.ACTION_DAYS`, and a forgotten button is answered with
    a friendly "run the command again" instead of failing.
    """

    def __init__(self, shelves):
        self.shelves = shelves

    def put_many(self, actions: list[Action]) -> None:
        """Keep the actions of one answer's buttons (one transaction)."""
        rows = {a.token: (a.reader, a.encode()) for a in actions}
        if rows:
            self.shelves.put_actions([(token, reader, raw) for token, (reader, raw) in rows.items()])

    def get(self, token: str) -> Action | None:
        """The action behind `token`, or None if unknown, forgotten or unreadable."""
        return Action.decode(self.shelves.action(token))
