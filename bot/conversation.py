"""Commands and button presses in, `Answer`s out: the service's replies plus the buttons under them.

Nothing here knows Discord or Telegram: an `Answer` holds a `Reply` from `bot.service` and
the `Button`s under it (per pick, per candidate, one navigation row), whose actions wait in
the `ActionStore`; each adapter lays them out its own way.
"""
from __future__ import annotations

import base64
import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any


class ActionStore:
    """Button payloads behind short tokens (Telegram allows 64 bytes of callback data).

    Tokens are content hashes, so the same button always gets the same token. The store
    keeps the most recent `capacity` payloads; an older button is answered with a friendly
    "run the command again" instead of failing.
    """

    def __init__(self, capacity: int = 50_000):
        self.capacity = capacity
        self._payloads: OrderedDict[str, dict] = OrderedDict()

    def put(self, payload: dict) -> str:
        """Store `payload` and return its token (12 URL-safe characters)."""
        raw = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
        token = base64.urlsafe_b64encode(hashlib.sha256(raw).digest()[:9]).decode()
        self._payloads[token] = payload
        self._payloads.move_to_end(token)
        while len(self._payloads) > self.capacity:
            self._payloads.popitem(last=False)
        return token

    def get(self, token: str) -> dict | None:
        """The payload behind `token`, or None if unknown or forgotten."""
        return self._payloads.get(token)




@dataclass(frozen=True)
class Button:
    """One button; `token` finds its action in the `ActionStore`.

    A button under one pick of a list also says which `action` it is ("➕ Add to shelf", the
    same for every pick) and for which `item` ("3. Solaris"), so that an adapter without room
    for a button per pick (Discord: 5 rows of 5) can offer one menu per action instead.
    """

    label: str
    token: str
    style: str = "secondary"  # primary | secondary | danger
    action: str = ""
    item: str = ""


@dataclass
class Answer:
    """What an adapter renders: the service's reply and the buttons under it.

    Attributes:
        reply: The service's `Reply` (or a `TextReply`).
        picks: For a list of books: each book's buttons, in the list's order.
        choices: One button per candidate when a title was ambiguous or unknown.
        nav: One row under everything: paging, or Yes / Cancel.
        private: About the reader's own shelf: seen only by them where the platform allows it
            (Discord servers).
        toast: A short note on a pressed button (expired, not yours): a popup, not a message.
    """

    reply: Any
    picks: list[list[Button]] = field(default_factory=list)
    choices: list[Button] = field(default_factory=list)
    nav: list[Button] = field(default_factory=list)
    private: bool = False
    toast: bool = False

    @property
    def text(self) -> str:
        return getattr(self.reply, "text", "") or ""

    @property
    def buttons(self) -> list[Button]:
        return [b for row in self.picks for b in row] + self.choices + self.nav


@dataclass
class TextReply:
    """A reply made here (rate limits, refusals) rather than by the service."""

    text: str
    kind: str = "info"


class Conversation:
    """Turns each platform's commands and button presses into `Service` calls and `Answer`s.

    Every method blocks (matching, index queries, SQLite): adapters call them through
    `asyncio.to_thread`. Choices, "add to shelf", "more like this", paging and confirmations
    become buttons whose payloads wait in the `ActionStore`.
    """

    def __init__(self, service, actions: ActionStore | None = None):
        self.service = service
        self.actions = actions or ActionStore()

    def _button(self, label: str, payload: dict, style: str = "secondary", action: str = "", item: str = "") -> Button:
        return Button(label[:80], self.actions.put(payload), style, action, item)

    def _pick_buttons(self, n: int | None, work) -> list[Button]:
        """The buttons under one book (`n` is its place in a list, None for a single book)."""
        item = f"{n}. {work.label}" if n else work.label
        number = f"{n}. " if n else ""
        return [self._button(f"➕ {number}Add to shelf", {"do": "add", "key": work.key}, "primary", "➕ Add to shelf", item),
                self._button(f"🔎 {number}More like this", {"do": "recommend", "key": work.key}, "secondary",
                             "🔎 More like this", item)]

    def _answer(self, reader: str, reply, private: bool = False) -> Answer:
        """`reply` with the buttons its kind calls for (the reply says what its choices and Yes do)."""
        kind = getattr(reply, "kind", "info")
        answer = Answer(reply, private=private)
        action = getattr(reply, "action", None)
        if getattr(reply, "choices", None):  # ambiguous or unknown title: one button per candidate
            action = action or {"do": "recommend"}
            answer.choices = [self._button(f"{n}. {work.label}", {**action, "key": work.key}, item=f"{n}. {work.label}")
                              for n, work in enumerate(reply.choices[:9], 1)]
        elif kind == "recommendations":
            answer.picks = [self._pick_buttons(n, p.work) for n, p in enumerate(reply.recommendations.picks, 1)]
        elif kind == "book" and reply.work is not None:
            answer.picks = [self._pick_buttons(None, reply.work)]
        elif kind == "shelf" and getattr(reply, "pages", 0) > 1:
            shelf = (action or {}).get("shelf", "read")
            if reply.page > 0:
                answer.nav.append(self._button("◀ Previous", {"do": "page", "page": reply.page - 1, "shelf": shelf}))
            if reply.page + 1 < reply.pages:
                answer.nav.append(self._button("Next ▶", {"do": "page", "page": reply.page + 1, "shelf": shelf}))
        elif kind == "confirm" and action is not None:
            answer.nav = [self._button("Yes, go ahead", {**action, "reader": reader}, "danger"),
                          self._button("Cancel", {"do": "cancel", "reader": reader})]
        return answer

    # --- typed commands (Discord) ------------------------------------------------------------

    def recommend(self, reader: str, title: str = "", count: int | None = None, rarity: str | None = None) -> Answer:
        reply = self.service.recommend(reader, title or None, k=count or 10, rarity=rarity)
        return self._answer(reader, reply)

    def book(self, reader: str, title: str) -> Answer:
        return self._answer(reader, self.service.book(reader, title))

    def shelf(self, reader: str, page: int = 0, shelf: str = "read") -> Answer:
        return self._answer(reader, self.service.shelf(reader, page=page, shelf=shelf), private=True)

    def shelf_add(self, reader: str, title: str, rating: int | None = None) -> Answer:
        return self._answer(reader, self.service.shelf_add(reader, title, rating), private=True)

    def shelf_remove(self, reader: str, title: str) -> Answer:
        return self._answer(reader, self.service.shelf_remove(reader, title), private=True)

    def shelf_clear(self, reader: str, confirm: bool = False) -> Answer:
        return self._answer(reader, self.service.shelf_clear(reader, confirm=confirm), private=True)

    def forget(self, reader: str, confirm: bool = False) -> Answer:
        return self._answer(reader, self.service.forget(reader, confirm=confirm), private=True)

    def import_file(self, reader: str, data: bytes) -> Answer:
        return Answer(self.service.shelf_import(reader, data), private=True)

    def help(self, reader: str) -> Answer:
        return Answer(self.service.help(reader))

    # --- chat lines (Telegram) ---------------------------------------------------------------

    def text(self, reader: str, line: str) -> Answer:
        """A chat line as the service parses it (commands, numbers picking a choice, bare titles)."""
        reply = self.service.handle_text(reader, line)
        return self._answer(reader, reply, private=getattr(reply, "kind", "") in ("shelf", "confirm"))

    # --- buttons -----------------------------------------------------------------------------

    def press(self, reader: str, token: str) -> Answer:
        """Run the action behind a pressed button for `reader`."""
        payload = self.actions.get(token)
        if payload is None:
            return Answer(TextReply("That button has expired; please run the command again."), toast=True)
        owner = payload.get("reader")
        if owner is not None and owner != reader:
            return Answer(TextReply("That button is for someone else."), toast=True)
        do = payload.get("do")
        if do not in ("cancel", "clear", "forget", "page") and not payload.get("key"):
            return Answer(TextReply("That button has expired; please run the command again."), toast=True)
        if do == "cancel":
            return Answer(TextReply("Cancelled; nothing changed."), private=True)
        if do == "clear":
            return self.shelf_clear(reader, confirm=True)
        if do == "forget":
            return self.forget(reader, confirm=True)
        if do == "page":
            return self.shelf(reader, payload["page"], payload.get("shelf", "read"))
        return self._answer(reader, self.service.act(reader, payload), private=do in ("add", "remove"))
