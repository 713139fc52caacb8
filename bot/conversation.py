"""Commands and button presses in, `Answer`s out: the service's replies plus the buttons under them.

Nothing here knows Discord or Telegram: an `Answer` holds a `Reply` from `bot.service` and
the `Button`s under it (per pick, per candidate, one navigation row), whose actions wait in
the `ActionStore`; each adapter lays them out its own way.
"""
from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

PICK_ACTIONS = (  # under every recommended book: (what it does, its label)
    ("read", "✓ Read it"),
    ("dismiss", "✗ Not interested"),
    ("recommend", "🔎 More like this"),
)
TOASTS = ("read", "dismiss")  # presses answered with a short note, not a message


class ActionStore:
    """Button payloads behind short tokens (Telegram allows 64 bytes of callback data).

    Tokens are content hashes, so the same button always gets the same token. Payloads
    are kept in the shelf store's SQLite file, so buttons keep working after a restart;
    `engine.shelf` forgets them after `ACTION_DAYS`, and a forgotten button is answered
    with a friendly "run the command again" instead of failing.
    """

    def __init__(self, shelves):
        self.shelves = shelves

    @staticmethod
    def token(payload: dict) -> str:
        """The token of `payload` (12 URL-safe characters)."""
        raw = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
        return base64.urlsafe_b64encode(hashlib.sha256(raw).digest()[:9]).decode()

    def put_many(self, payloads: list[dict]) -> None:
        """Keep the payloads of one answer's buttons (one transaction)."""
        rows = {self.token(p): (p.get("reader"), json.dumps(p, ensure_ascii=False)) for p in payloads}
        if rows:
            self.shelves.put_actions([(token, reader, payload) for token, (reader, payload) in rows.items()])

    def get(self, token: str) -> dict | None:
        """The payload behind `token`, or None if unknown or forgotten."""
        raw = self.shelves.action(token)
        return json.loads(raw) if raw else None


@dataclass(frozen=True)
class Button:
    """One button; `token` finds its action in the `ActionStore`.

    A button under one pick of a list also says which `action` it is ("✓ Read it", the same
    for every pick) and for which `item` ("3. Solaris"), so that an adapter without room
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
        nav: One row under everything: "More", paging, or Yes / Cancel.
        private: About the reader's own shelf: seen only by them where the platform allows it
            (Discord servers).
        toast: A short note on a pressed button (noted, expired, not yours): a popup, not a message.
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


class _Buttons:
    """The buttons of one answer; their payloads are stored together when the answer is done."""

    def __init__(self):
        self.payloads: list[dict] = []

    def __call__(self, label: str, payload: dict, style: str = "secondary", action: str = "", item: str = "") -> Button:
        self.payloads.append(payload)
        return Button(label[:80], ActionStore.token(payload), style, action, item)

    def pick(self, n: int | None, work) -> list[Button]:
        """The buttons under one book (`n` is its place in a list, None for a single book)."""
        item = f"{n}. {work.label}" if n else work.label
        number = f"{n}. " if n else ""
        return [self(f"{label[:2]}{number}{label[2:]}", {"do": do, "key": work.key},
                     "primary" if do == "read" else "secondary", label, item) for do, label in PICK_ACTIONS]


class Conversation:
    """Turns each platform's commands and button presses into `Service` calls and `Answer`s.

    Every method blocks (matching, index queries, SQLite): adapters run them off the event
    loop. Choices, "read it", "not interested", "more like this", "more", paging and
    confirmations become buttons whose payloads wait in the `ActionStore`.
    """

    def __init__(self, service, actions: ActionStore | None = None):
        self.service = service
        self.actions = actions or ActionStore(service.shelves)

    def _answer(self, reader: str, reply, private: bool = False, toast: bool = False) -> Answer:
        """`reply` with the buttons its kind calls for (the reply says what its choices, Yes and More do)."""
        kind = getattr(reply, "kind", "info")
        answer = Answer(reply, private=private, toast=toast)
        button = _Buttons()
        action = getattr(reply, "action", None)
        if getattr(reply, "choices", None):  # ambiguous or unknown title: one button per candidate
            action = action or {"do": "recommend"}
            answer.choices = [button(f"{n}. {work.label}", {**action, "key": work.key}, item=f"{n}. {work.label}")
                              for n, work in enumerate(reply.choices[:9], 1)]
        elif kind == "recommendations":
            answer.picks = [button.pick(n, p.work) for n, p in enumerate(reply.recommendations.picks, reply.offset + 1)]
            if action:
                answer.nav = [button("More ▶", action, "primary")]
        elif kind == "book" and reply.work is not None:
            answer.picks = [button.pick(None, reply.work)]
        elif kind == "shelf" and getattr(reply, "pages", 0) > 1:
            shelf = (action or {}).get("shelf", "read")
            if reply.page > 0:
                answer.nav.append(button("◀ Previous", {"do": "page", "page": reply.page - 1, "shelf": shelf}))
            if reply.page + 1 < reply.pages:
                answer.nav.append(button("Next ▶", {"do": "page", "page": reply.page + 1, "shelf": shelf}))
        elif kind == "confirm" and action is not None:
            answer.nav = [button("Yes, go ahead", {**action, "reader": reader}, "danger"),
                          button("Cancel", {"do": "cancel", "reader": reader})]
        self.actions.put_many(button.payloads)
        return answer

    # --- typed commands (Discord) ------------------------------------------------------------

    def recommend(self, reader: str, title: str = "", count: int | None = None, rarity: str | None = None,
                  page: int = 0, lang: str | None = None, scope: str | None = None) -> Answer:
        reply = self.service.recommend(reader, title or None, k=count or 10, rarity=rarity, page=page, lang=lang,
                                       scope=scope)
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

    def share(self, reader: str, scope: str | None, on: bool = True) -> Answer:
        return self._answer(reader, self.service.share(reader, scope, on))

    def forget(self, reader: str, confirm: bool = False) -> Answer:
        return self._answer(reader, self.service.forget(reader, confirm=confirm), private=True)

    def import_file(self, reader: str, data: bytes) -> Answer:
        return Answer(self.service.shelf_import(reader, data), private=True)

    def help(self, reader: str) -> Answer:
        return Answer(self.service.help(reader))

    # --- chat lines (Telegram) ---------------------------------------------------------------

    def text(self, reader: str, line: str, scope: str | None = None) -> Answer:
        """A chat line as the service parses it (commands, numbers picking a choice, bare titles)."""
        reply = self.service.handle_text(reader, line, scope)
        return self._answer(reader, reply, private=getattr(reply, "kind", "") in ("shelf", "confirm"))

    # --- buttons -----------------------------------------------------------------------------

    def press(self, reader: str, token: str) -> Answer:
        """Run the action behind a pressed button for `reader` (whoever sent the message it is under)."""
        payload = self.actions.get(token)
        if payload is None:
            return Answer(TextReply("That button has expired; please run the command again.", "error"), toast=True)
        owner = payload.get("reader")
        if owner is not None and owner != reader:
            return Answer(TextReply("That button is for someone else.", "error"), toast=True)
        do = payload.get("do")
        if do == "cancel":
            return Answer(TextReply("Cancelled; nothing changed."), private=True)
        if do == "clear":
            return self.shelf_clear(reader, confirm=True)
        if do == "forget":
            return self.forget(reader, confirm=True)
        if do == "page":
            return self.shelf(reader, payload["page"], payload.get("shelf", "read"))
        if do != "shelf_recs" and not payload.get("key"):
            return Answer(TextReply("That button has expired; please run the command again.", "error"), toast=True)
        reply = self.service.act(reader, payload)
        return self._answer(reader, reply, private=do in ("add", "remove"), toast=do in TOASTS)
