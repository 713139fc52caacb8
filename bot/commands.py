"""The chat commands, declared once: names, typed options with ranges, help lines, who may run them.

Everything that lists or reads commands derives from `COMMANDS`: the typed grammar of the
terminal and Telegram (`bot.grammar`), `/help` and every usage line (`bot.wording`), the
Telegram command menu, Discord's app commands (`bot.discord_bot`) and the docs test.
A command's use case is the `bot.service.Service` method named after it (`shelf add` ->
`Service.shelf_add`), taking its options as keywords; an admin command's flow is the
runtime's (`bot.runtime.BotRuntime.admin_flows`). A new chat command is one entry here
plus that method.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from engine.rarity import RARITIES

MAX_COUNT = 25  # picks one request may ask for (Discord shows fewer: a message holds 10 embeds)
MAX_PAGES = 10  # pages of one list of picks (the engine re-scores a few hundred candidates)


class BadValue(ValueError):
    """An option's value is not one it takes; the message says what it takes, in one line."""


@dataclass(frozen=True)
class Option:
    """One option of a command.

    Attributes:
        name: The use case's keyword and Discord's option name.
        type: str, int, bool, or bytes for a file (which cannot be typed).
        help: One line about it (Discord shows it under the option).
        label: What it is, inside a sentence ("the number of books"), for refusals.
        typed: Its name in typed syntax (`k` in `k=5`); empty for the option typed
            without a name: the free text after the command, a page number, or a word.
        aliases: Other typed names (`n=5`).
        low: The smallest whole number it takes (int options).
        high: The largest (None: no limit).
        choices: The values it takes, if only a few, each with what it means.
        words: For a bool typed without a name: the words that set it (`yes`).
        example: A value to show in help ("Dune").
        required: The command cannot run without it.
        titles: It is a book's title: platforms complete it from the catalogue.
    """

    name: str
    type: type
    help: str
    label: str = ""
    typed: str = ""
    aliases: tuple[str, ...] = ()
    low: int | None = None
    high: int | None = None
    choices: dict[str, str] = field(default_factory=dict)
    words: tuple[str, ...] = ()
    example: str = ""
    required: bool = False
    titles: bool = False

    @property
    def positional(self) -> bool:
        """Typed without a name: free text, a number or a word after the command."""
        return not self.typed

    def check(self, value):
        """`value` when the option takes it (a string converted to the option's type), else BadValue.

        Raises:
            BadValue: with a line saying what the option takes.
        """
        if self.type is int:
            try:
                number = int(str(value).strip())
            except (TypeError, ValueError):
                raise BadValue(self._range()) from None
            if (self.low is not None and number < self.low) or (self.high is not None and number > self.high):
                raise BadValue(self._range())
            return number
        if self.type is bool:
            return value if isinstance(value, bool) else str(value).strip().lower() in self.words
        if self.choices:
            text = str(value).strip().lower()
            if text not in self.choices:
                raise BadValue(f"{self.label[:1].upper()}{self.label[1:]} is one of: {', '.join(self.choices)}.")
            return text
        return value

    def _range(self) -> str:
        label = f"{self.label[:1].upper()}{self.label[1:]}"
        if self.high is None:
            return f"{label} is a whole number from {self.low}."
        return f"{label} is a whole number from {self.low} to {self.high}."


@dataclass(frozen=True)
class Command:
    """One chat command.

    Attributes:
        name: Its name, with its group first ("shelf add"); Discord's command path.
        help: One line about it (`/help`, Discord's description, Telegram's menu).
        options: Its options, in the order they are typed.
        typed: Its name in typed syntax when that differs ("shelf" for "shelf show").
        aliases: Other typed names ("rec", "shelf rm"; "import" is "shelf import").
        presets: Typed names that set options ("shelf unshare" is "shelf share" with stop).
        admin: Only the bot's admins may run it (and it is not in `/help`).
        private: About the reader's own shelf: only they see the answer where a platform can.
        scoped: The use case takes the group it was asked in (`scope`).
    """

    name: str
    help: str
    options: tuple[Option, ...] = ()
    typed: str = ""
    aliases: tuple[str, ...] = ()
    presets: dict = field(default_factory=dict)
    admin: bool = False
    private: bool = False
    scoped: bool = False

    @property
    def use(self) -> str:
        """The name of its use case: `Service.shelf_add` for "shelf add"."""
        return self.name.replace(" ", "_")

    @property
    def group(self) -> str | None:
        """"shelf" for "shelf add"; None for a command of its own."""
        head, _, rest = self.name.partition(" ")
        return head if rest else None

    @property
    def typed_name(self) -> str:
        return self.typed or self.name

    def option(self, name: str) -> Option:
        return next(o for o in self.options if o.name == name)

    def check(self, values: dict) -> dict:
        """The options given (None values left out), each checked; raises BadValue."""
        return {o.name: o.check(values[o.name]) for o in self.options if values.get(o.name) is not None}


def _title(help_text: str, required: bool = True, titles: bool = True) -> Option:
    return Option("title", str, help_text, label="the title", example="Dune", required=required, titles=titles)


def _page(help_text: str, typed: str = "", high: int | None = None) -> Option:
    return Option("page", int, help_text, label="a page", typed=typed, low=1, high=high, example="2")


COUNT = Option("count", int, "How many picks", label="the number of books", typed="k", aliases=("n",),
               low=1, high=MAX_COUNT, example="5")
RARITY = Option("rarity", str, f"How rare: {', '.join(RARITIES)} (from most to least read)", label="the rarity",
                typed="rarity", choices={n: r.description for n, r in RARITIES.items()}, example=list(RARITIES)[-1])
LANG = Option("lang", str, "Language of the picks: a code such as en or de, or any (default: the book's own)",
              label="the language", typed="lang", example="en")
RATING = Option("rating", int, "Your stars for it, 1 to 5", label="a rating", typed="rating", low=1, high=5, example="5")
TITLE_HELP = "The book's title (and author, if you like)"

GROUPS = {"shelf": "Your shelf of favourite books"}  # Discord's description of each command group

COMMANDS: tuple[Command, ...] = (
    Command("recommend", "Rare books that readers of a title loved (no title: for your shelf)",
            (_title("A book you love (leave empty to use your whole shelf, or in a group the shelves its members "
                    "shared)", required=False),
             COUNT, RARITY, LANG, _page("Which page of picks (More gives the next one)", typed="page", high=MAX_PAGES)),
            aliases=("rec", "r"), scoped=True),
    Command("book", "Look a book up: author, year, how many readers liked it", (_title(TITLE_HELP),)),
    Command("shelf show", "Show the books on your shelf", (_page("Page number (10 books a page)"),),
            typed="shelf", private=True),
    Command("shelf want", "Show the books you want to read (from your imports)",
            (_page("Page number (10 books a page)"),), aliases=("shelf wanted", "shelf to-read", "shelf toread"),
            private=True),
    Command("shelf add", "Add a book you loved to your shelf", (_title(TITLE_HELP), RATING), private=True),
    Command("shelf remove", "Take a book off your shelf",
            (_title("The book's title as on your shelf, or its number there", titles=False),),
            aliases=("shelf rm", "shelf del", "shelf delete"), private=True),
    Command("shelf clear", "Empty your shelf (asks first)",
            (Option("yes", bool, "Skip the question: yes, empty it now", words=("yes", "y", "confirm")),),
            private=True),
    Command("shelf import", "Import your Goodreads or StoryGraph library export (CSV)",
            (Option("file", bytes, "Goodreads: My Books → Import and export; StoryGraph: Manage Account → Export",
                    label="the export", required=True),),
            aliases=("import",), private=True),
    Command("shelf share", "Book club: add your shelf to this group's /recommend",
            (Option("stop", bool, "Stop sharing your shelf with this group", words=("off", "stop", "no")),),
            presets={"shelf unshare": {"stop": True}}, scoped=True),
    Command("forget", "Delete your shelf and everything rarereads knows about you (asks first)",
            (Option("yes", bool, "Skip the question: yes, forget me now", words=("yes", "y", "confirm")),),
            private=True),
    Command("help", "How to use rarereads", aliases=("start", "h")),
    Command("retrain", "Admins: train a new model and swap it in if it is as good", admin=True),
    Command("status", "Admins: model version and age, evaluation, catalogue, shelves, uptime", admin=True),
)
BY_NAME = {c.name: c for c in COMMANDS}


def command(name: str) -> Command:
    """The command called `name` ("shelf add")."""
    return BY_NAME[name]


def menu() -> list[tuple[str, str]]:
    """(name, help) of every top-level word a member can type, for a platform's command menu.

    A group is one entry listing its commands; a grouped command's one-word alias
    ("import") is an entry of its own. Admin commands stay out of menus.
    """
    entries: dict[str, str] = {}
    for c in COMMANDS:
        if c.admin:
            continue
        if c.group is None:
            entries.setdefault(c.name, c.help)
            continue
        members = [f"/{m.typed_name}" for m in COMMANDS if m.group == c.group]
        entries.setdefault(c.group, f"{GROUPS[c.group]}: {', '.join(members)}")
        for alias in c.aliases:
            if " " not in alias:
                entries.setdefault(alias, c.help)
    return list(entries.items())
