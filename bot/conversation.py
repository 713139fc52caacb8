"""Commands and button presses in, `Answer`s out: the service's replies plus the buttons under them.

Nothing here knows Discord or Telegram: an `Answer` holds a typed reply (`bot.replies`)
and the `Button`s under it (per pick, per candidate, one navigation row), whose actions
wait in the `ActionStore`; each adapter lays them out its own way.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .actions import Action, ActionStore, Do
from .grammar import Call, Pick, parse
from .replies import Book, Choices, Confirm, Error, Info, Picks, Reply, ShelfPage
from .wording import TYPED, Dialect

PICK_ACTIONS = (  # under every recommended book: (what it does, its label)
    (Do.READ, "✓ Read it"),
    (Do.DISMISS, "✗ Not interested"),
    (Do.RECOMMEND, "🔎 More like this"),
)
TOASTS = (Do.READ, Do.DISMISS)  # presses answered with a short note, not a message
PRIVATE = (Do.ADD, Do.REMOVE, Do.PAGE, Do.CLEAR, Do.FORGET)  # presses about the reader's own shelf
KEYLESS = (Do.SHELF_RECS, Do.PAGE, Do.CLEAR, Do.FORGET, Do.CANCEL)  # presses acting on no one work
EXPIRED = "That button has expired; please run the command again."


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
        reply: The service's typed reply (`bot.replies`).
        picks: For a list of books: each book's buttons, in the list's order.
        choices: One button per candidate when a title was ambiguous or unknown.
        nav: One row under everything: "More", paging, or Yes / Cancel.
        private: About the reader's own shelf: seen only by them where the platform allows it
            (Discord servers).
        toast: A short note on a pressed button (noted, expired, not yours): a popup, not a message.
    """

    reply: Reply
    picks: list[list[Button]] = field(default_factory=list)
    choices: list[Button] = field(default_factory=list)
    nav: list[Button] = field(default_factory=list)
    private: bool = False
    toast: bool = False

    @property
    def text(self) -> str:
        return self.reply.text

    @property
    def buttons(self) -> list[Button]:
        return [b for row in self.picks for b in row] + self.choices + self.nav


class _Buttons:
    """The buttons of one answer; their actions are stored together when the answer is done."""

    def __init__(self):
        self.actions: list[Action] = []

    def __call__(self, label: str, action: Action, style: str = "secondary", kind: str = "", item: str = "") -> Button:
        self.actions.append(action)
        return Button(label[:80], action.token, style, kind, item)

    def pick(self, n: int | None, work) -> list[Button]:
        """The buttons under one book (`n` is its place in a list, None for a single book)."""
        item = f"{n}. {work.label}" if n else work.label
        number = f"{n}. " if n else ""
        return [self(f"{label[:2]}{number}{label[2:]}", Action(do, key=work.key),
                     "primary" if do == Do.READ else "secondary", label, item) for do, label in PICK_ACTIONS]


class Conversation:
    """Turns each platform's commands and button presses into `Service` calls and `Answer`s.

    Every method blocks (matching, index queries, SQLite): adapters run them off the event
    loop. Choices, "read it", "not interested", "more like this", "more", paging and
    confirmations become buttons whose actions wait in the `ActionStore`.
    """

    def __init__(self, service, actions: ActionStore | None = None):
        self.service = service
        self.actions = actions or ActionStore(service.shelves)

    def _answer(self, reader: str, reply: Reply, private: bool = False, toast: bool = False) -> Answer:
        """`reply` with the buttons its type calls for (the reply says what its choices, Yes and More do)."""
        answer = Answer(reply, private=private, toast=toast)
        button = _Buttons()
        match reply:
            case Choices(choices=choices, action=action) if choices:  # one button per candidate
                answer.choices = [button(f"{n}. {work.label}", action.on(work.key), item=f"{n}. {work.label}")
                                  for n, work in enumerate(choices[:9], 1)]
            case Picks(recommendations=result, offset=offset, more=more):
                answer.picks = [button.pick(n, p.work) for n, p in enumerate(result.picks, offset + 1)]
                if more is not None:
                    answer.nav = [button("More ▶", more, "primary")]
            case Book(work=work) if work is not None:
                answer.picks = [button.pick(None, work)]
            case ShelfPage(page=page, pages=pages, shelf=shelf) if pages > 1:
                if page > 0:
                    answer.nav.append(button("◀ Previous", Action(Do.PAGE, page=page - 1, shelf=shelf)))
                if page + 1 < pages:
                    answer.nav.append(button("Next ▶", Action(Do.PAGE, page=page + 1, shelf=shelf)))
            case Confirm(action=action) if action is not None:
                answer.nav = [button("Yes, go ahead", action, "danger"),
                              button("Cancel", Action(Do.CANCEL, reader=reader))]
        self.actions.put_many(button.actions)
        return answer

    def run(self, reader: str, call: Call, scope: str | None = None, say: Dialect = TYPED) -> Answer:
        """A command from the table (a Discord slash command, a typed line, an import)."""
        return self._answer(reader, self.service.run(reader, call, scope=scope, say=say), private=call.command.private)

    def text(self, reader: str, line: str, scope: str | None = None, say: Dialect = TYPED) -> Answer:
        """A typed chat line: a command, a number picking a choice, or a bare title."""
        return self.handle(reader, parse(line), scope, say)

    def handle(self, reader: str, parsed: Call | Pick | Reply, scope: str | None = None,
               say: Dialect = TYPED) -> Answer:
        """What `bot.grammar.parse` made of a chat line."""
        if isinstance(parsed, Call):
            return self.run(reader, parsed, scope, say)
        return self._answer(reader, self.service.handle(reader, parsed, scope=scope, say=say))

    def press(self, reader: str, token: str, say: Dialect = TYPED) -> Answer:
        """Run the action behind a pressed button for `reader` (whoever sent the message it is under)."""
        action = self.actions.get(token)
        if action is None or (action.do not in KEYLESS and not action.key):
            return Answer(Error(EXPIRED), toast=True)
        if action.reader is not None and action.reader != reader:
            return Answer(Error("That button is for someone else."), toast=True)
        if action.do == Do.CANCEL:
            return Answer(Info("Cancelled; nothing changed."), private=True)
        reply = self.service.act(reader, action, say=say)
        return self._answer(reader, reply, private=action.do in PRIVATE, toast=action.do in TOASTS)
