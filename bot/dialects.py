"""How each platform says things: its help text and how a reader answers a question there.

The service's replies are the same everywhere except where the way to act differs: the
terminal and Telegram take typed options (`k=5`) and numbers, Discord takes slash-command
options (`count:`) and menus. The dialect is chosen by the reader id's platform prefix.
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.rarity import RARITIES


@dataclass(frozen=True)
class Dialect:
    """Phrases that depend on the platform.

    Attributes:
        commands: Help lines, one per command (with `{max_k}` for the largest count).
        option_format: How an option is written, with `{name}` and `{value}`.
        option_names: Neutral option name -> the platform's name for it.
        choose: The line that ends a list of candidates.
        confirm: How to go ahead after a question, with `{command}` ("shelf clear").
        next_page: How to see page `{page}` of a shelf shown with `{command}`.
        shelf_commands: The command showing each shelf ("read", "want").
        unshare: How to stop sharing a shelf with a group.
    """

    commands: tuple[str, ...]
    option_format: str
    option_names: dict
    choose: str
    confirm: str
    next_page: str
    shelf_commands: dict
    unshare: str = "/shelf share off"

    def option(self, name: str, value) -> str:
        """`rarity=balanced` or `rarity: balanced`."""
        return self.option_format.format(name=self.option_names.get(name, name), value=value)

    def help(self, default_rarity: str, max_k: int) -> str:
        rarities = ", ".join(f"{name} ({r.description})" for name, r in RARITIES.items())
        return "\n".join(["I recommend rare books that readers of your favourites loved.",
                          *(line.format(max_k=max_k, rarest=list(RARITIES)[-1]) for line in self.commands),
                          f"Rarities: {rarities}. Default: {default_rarity}."])


_TYPED = (
    "/recommend Dune — rare books for one title (or just type a title)",
    "/recommend — for your whole shelf (in a group: the shelves its members shared)",
    "  options: k=5 (how many, up to {max_k}), rarity={rarest}, lang=en (or any), page=2",
    "Under each pick: Read it (to your shelf), Not interested (never again), More like this",
    "/book Dune — about one book",
    "/shelf — your shelf; /shelf add Dune [rating=5]; /shelf remove Dune; /shelf clear",
    "/shelf want — the books you want to read (from your imports)",
    "/shelf share — in a group: add your shelf to its /recommend (book club); /shelf share off",
    "/forget — delete everything I keep about you",
)
TERMINAL = Dialect(
    commands=_TYPED,
    option_format="{name}={value}", option_names={"count": "k"},
    choose="Answer with a number:",
    confirm="Send /{command} yes to go ahead.",
    next_page="More: {command} {page}", shelf_commands={"read": "/shelf", "want": "/shelf want"},
)
TELEGRAM = Dialect(
    commands=_TYPED + ("Import: send your Goodreads export (CSV) as a file.",
                       "In any chat: @-mention me with a title to share a book."),
    option_format="{name}={value}", option_names={"count": "k"},
    choose="Press a button or answer with a number:",
    confirm="Press Yes below, or send /{command} yes.",
    next_page="More: {command} {page}", shelf_commands={"read": "/shelf", "want": "/shelf want"},
)
DISCORD = Dialect(
    commands=(
        "/recommend title: Dune — rare books for one title (options: count, rarity, lang, page)",
        "/recommend — for your whole shelf (in a server: the shelves its members shared)",
        "Under each list: Read it (to your shelf), Not interested (never again), More like this, More",
        "/book title: Dune — about one book",
        "/shelf show — your shelf; /shelf add title: Dune [rating: 5]; /shelf remove title: Dune; /shelf clear",
        "/shelf want — the books you want to read; /shelf import file: — a Goodreads or StoryGraph export",
        "/shelf share — add your shelf to this server's /recommend (book club); stop: True to stop",
        "/forget — delete everything I keep about you",
    ),
    option_format="{name}: {value}", option_names={},
    choose="Pick it from the menu below.",
    confirm="Press Yes below, or run /{command} with yes: True.",
    next_page="More: {command} page: {page}", shelf_commands={"read": "/shelf show", "want": "/shelf want"},
    unshare="/shelf share stop: True",
)
DIALECTS = {"discord": DISCORD, "telegram": TELEGRAM}


def dialect_of(reader: str) -> Dialect:
    """The dialect for a reader id such as "discord:42" (the terminal's for any other platform)."""
    return DIALECTS.get(reader.partition(":")[0], TERMINAL)
